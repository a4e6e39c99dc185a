"""Stripe's answers as the port's plain dataclasses (stripe-python 16 objects are not
dicts: they are read through `to_dict()`), and declines in words a driver understands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from backend.services.payment_gateway import (
    CardInfo,
    IntentInfo,
    InvoiceInfo,
    RefundInfo,
    SetupInfo,
    SubscriptionInfo,
)

KEY = "wattpass_key"  # metadata naming the idempotency key an object was created with
DECLINE_TEXT = {
    "insufficient_funds": "Your card has insufficient funds. Use another card.",
    "expired_card": "Your card has expired. Add a valid card in the app.",
    "incorrect_cvc": "Your card's security code was not accepted. Add the card again.",
    "lost_card": "Your card was declined. Use another card or contact your bank.",
    "stolen_card": "Your card was declined. Use another card or contact your bank.",
}
DEFAULT_DECLINE = "Your card was declined. Use another card or contact your bank."


def ts(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value else None


def ref_id(value: Any) -> str | None:
    """An expandable field: an id, or the expanded object (localstripe expands some)."""
    if value is None or isinstance(value, str):
        return value
    return str(value.get("id")) if isinstance(value, dict) else str(value.id)


def as_dict(obj: Any) -> dict[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def intent_info(d: dict[str, Any]) -> IntentInfo:
    error = d.get("last_payment_error") or {}
    status = d.get("status") or "requires_payment_method"
    return IntentInfo(
        id=d["id"],
        status=status,
        amount=int(d.get("amount") or 0),
        currency=str(d.get("currency") or "").upper(),
        customer_id=ref_id(d.get("customer")),
        payment_method_id=ref_id(d.get("payment_method")),
        capture_method=d.get("capture_method") or "automatic",
        client_secret=d.get("client_secret"),
        failure_code=error.get("decline_code") or error.get("code"),
        failure_message=decline_text(error.get("decline_code"), error.get("message"))
        if error
        else None,
        metadata=dict(d.get("metadata") or {}),
    )


def decline_text(decline_code: str | None, _stripe_message: str | None) -> str:
    # Stripe's own message is written for developers; ours for the driver.
    return DECLINE_TEXT.get(decline_code or "", DEFAULT_DECLINE)


def card_info(d: dict[str, Any]) -> CardInfo:
    card = d.get("card") or {}
    return CardInfo(
        payment_method_id=d["id"],
        brand=str(card.get("brand") or "card"),
        last4=str(card.get("last4") or ""),
        exp_month=int(card.get("exp_month") or 0),
        exp_year=int(card.get("exp_year") or 0),
        customer_id=ref_id(d.get("customer")),
        fingerprint=card.get("fingerprint"),
    )


def subscription_info(d: dict[str, Any]) -> SubscriptionInfo:
    period_end = d.get("current_period_end")
    if period_end is None:  # API versions from 2025 keep the period on the items
        items = (d.get("items") or {}).get("data") or []
        period_end = items[0].get("current_period_end") if items else None
    return SubscriptionInfo(
        id=d["id"],
        status=str(d.get("status")),
        customer_id=str(ref_id(d.get("customer"))),
        cancel_at_period_end=bool(d.get("cancel_at_period_end")),
        current_period_end=ts(period_end),
        latest_invoice_id=ref_id(d.get("latest_invoice")),
        metadata=dict(d.get("metadata") or {}),
    )


def setup_info(d: dict[str, Any]) -> SetupInfo:
    return SetupInfo(
        setup_intent_id=d["id"],
        client_secret=str(d.get("client_secret") or ""),
        status=str(d.get("status")),
        customer_id=ref_id(d.get("customer")),
        payment_method_id=ref_id(d.get("payment_method")),
    )


def refund_info(d: dict[str, Any]) -> RefundInfo:
    return RefundInfo(
        id=d["id"],
        status=str(d.get("status")),
        amount=int(d.get("amount") or 0),
        metadata=dict(d.get("metadata") or {}),
    )


def invoice_info(d: dict[str, Any], intent: str | None) -> InvoiceInfo:
    subscription = ref_id(d.get("subscription"))
    if subscription is None:  # newer API versions: under parent.subscription_details
        parent = d.get("parent") or {}
        subscription = ref_id((parent.get("subscription_details") or {}).get("subscription"))
    return InvoiceInfo(
        id=d["id"],
        status=str(d.get("status")),
        customer_id=str(ref_id(d.get("customer"))),
        subscription_id=subscription,
        amount_due=int(d.get("amount_due") or 0),
        currency=str(d.get("currency") or "").upper(),
        payment_intent_id=intent,
        period_end=ts(d.get("period_end")),
    )
