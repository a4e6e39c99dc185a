"""The payment gateway on stripe-python 16: Stripe itself, or localstripe on loopback.

Stripe's objects never leave the adapter (stripe_base, stripe_objects, stripe_billing):
every answer becomes one of the port's plain dataclasses and every Stripe error one of
its domain errors.

Where localstripe differs from Stripe the code says so; the differences handled here:
it cannot filter PaymentIntents by customer, it answers an off-session 3-D Secure card
with `requires_action` (Stripe raises `authentication_required`), it does not attach a
card to the customer when a SetupIntent is confirmed, and invoices still name their
`payment_intent` (Stripe's newer API versions list them under `payments`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import stripe

from backend.adapters.stripe_billing import StripeBilling
from backend.adapters.stripe_objects import (
    KEY,
    as_dict,
    card_info,
    intent_info,
    ref_id,
    refund_info,
    setup_info,
    ts,
)
from backend.config import LOCAL_PUBLISHABLE_KEY, LOCAL_SECRET_KEY, Settings
from backend.services.payment_gateway import (
    AuthenticationRequired,
    CardInfo,
    IntentInfo,
    InvalidWebhook,
    PaymentGateway,
    PaymentRequestRejected,
    RefundInfo,
    SetupInfo,
    WebhookEvent,
)


class StripeGateway(StripeBilling, PaymentGateway):
    """The port on Stripe (or localstripe): cards, payments, refunds, plans, webhooks."""

    # --- customers and cards ----------------------------------------------------------

    def create_customer(self, email: str, driver_id: int, idempotency_key: str) -> str:
        customer = self._call(
            "create customer",
            self._client.v1.customers.create,
            params={"email": email, "metadata": {"wattpass_driver_id": str(driver_id)}},
            options={"idempotency_key": idempotency_key},
        )
        return str(customer.id)

    def find_customer(self, email: str, driver_id: int) -> str | None:
        for c in self._paged("list customers", self._client.v1.customers, {"email": email}):
            if (c.get("metadata") or {}).get("wattpass_driver_id") == str(driver_id):
                return str(c["id"])
        return None

    def create_setup_intent(self, customer_id: str, idempotency_key: str) -> SetupInfo:
        si = self._call(
            "create setup intent",
            self._client.v1.setup_intents.create,
            params={
                "customer": customer_id,
                "usage": "off_session",
                "payment_method_types": ["card"],
            },
            options={"idempotency_key": idempotency_key},
        )
        return setup_info(as_dict(si))

    def get_setup_intent(self, setup_intent_id: str) -> SetupInfo:
        si = self._call(
            "read setup intent", self._client.v1.setup_intents.retrieve, setup_intent_id
        )
        return setup_info(as_dict(si))

    def get_card(self, payment_method_id: str) -> CardInfo:
        pm = self._call("read card", self._client.v1.payment_methods.retrieve, payment_method_id)
        return card_info(as_dict(pm))

    def attach_card(self, payment_method_id: str, customer_id: str) -> CardInfo:
        pm = self._call(
            "attach card",
            self._client.v1.payment_methods.attach,
            payment_method_id,
            params={"customer": customer_id},
        )
        return card_info(as_dict(pm))

    def list_cards(self, customer_id: str) -> list[CardInfo]:
        rows = self._paged(
            "list cards", self._client.v1.payment_methods, {"customer": customer_id, "type": "card"}
        )
        return [card_info(r) for r in rows]

    def detach_card(self, payment_method_id: str) -> None:
        self._call("detach card", self._client.v1.payment_methods.detach, payment_method_id)

    def default_card_id(self, customer_id: str) -> str | None:
        c = as_dict(self._call("read customer", self._client.v1.customers.retrieve, customer_id))
        return ref_id((c.get("invoice_settings") or {}).get("default_payment_method"))

    # --- payments --------------------------------------------------------------------------

    def create_payment(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount: int,
        currency: str,
        manual_capture: bool,
        idempotency_key: str,
        description: str,
        metadata: dict[str, str],
    ) -> IntentInfo:
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "customer": customer_id,
            "payment_method": payment_method_id,  # localstripe: set at creation, not confirm
            "off_session": True,
            "confirm": True,
            "metadata": {**metadata, KEY: idempotency_key},
        }
        if manual_capture:
            params["capture_method"] = "manual"
        try:
            pi = self._call(
                "create payment",
                self._client.v1.payment_intents.create,
                params=params,
                options={"idempotency_key": idempotency_key},
            )
        except AuthenticationRequired as exc:
            # Stripe refuses an off-session payment that needs 3-D Secure; the intent
            # stays, and the app can confirm it with its client secret.
            if exc.intent_id is None:
                raise
            return self._requires_action(self.get_payment(exc.intent_id))
        return intent_info(as_dict(pi))

    @staticmethod
    def _requires_action(info: IntentInfo) -> IntentInfo:
        if info.status == "requires_payment_method":
            return replace(info, status="requires_action")
        return info

    def find_payment(self, customer_id: str, idempotency_key: str) -> IntentInfo | None:
        try:
            rows = list(
                self._paged(
                    "list payments", self._client.v1.payment_intents, {"customer": customer_id}
                )
            )
        except PaymentRequestRejected:
            # localstripe cannot filter intents by customer: list them all.
            rows = [
                r
                for r in self._paged("list payments", self._client.v1.payment_intents, {})
                if ref_id(r.get("customer")) == customer_id
            ]
        for r in rows:
            if (r.get("metadata") or {}).get(KEY) == idempotency_key:
                return intent_info(r)
        return None

    def get_payment(self, intent_id: str) -> IntentInfo:
        pi = self._call("read payment", self._client.v1.payment_intents.retrieve, intent_id)
        return intent_info(as_dict(pi))

    def capture(self, intent_id: str, amount: int, idempotency_key: str) -> IntentInfo:
        pi = self._call(
            "capture payment",
            self._client.v1.payment_intents.capture,
            intent_id,
            params={"amount_to_capture": amount},
            options={"idempotency_key": idempotency_key},
        )
        return intent_info(as_dict(pi))

    def cancel(self, intent_id: str, idempotency_key: str) -> IntentInfo:
        pi = self._call(
            "cancel payment",
            self._client.v1.payment_intents.cancel,
            intent_id,
            options={"idempotency_key": idempotency_key},
        )
        return intent_info(as_dict(pi))

    def refund(
        self, intent_id: str, amount: int, idempotency_key: str, metadata: dict[str, str]
    ) -> RefundInfo:
        r = self._call(
            "refund payment",
            self._client.v1.refunds.create,
            params={
                "payment_intent": intent_id,
                "amount": amount,
                "metadata": {**metadata, KEY: idempotency_key},
            },
            options={"idempotency_key": idempotency_key},
        )
        return refund_info(as_dict(r))

    def find_refund(self, intent_id: str, idempotency_key: str) -> RefundInfo | None:
        for r in self._paged(
            "list refunds", self._client.v1.refunds, {"payment_intent": intent_id}
        ):
            if (r.get("metadata") or {}).get(KEY) == idempotency_key:
                return refund_info(r)
        return None

    # --- webhooks ---------------------------------------------------------------------------

    def parse_webhook(self, payload: bytes, signature: str | None) -> WebhookEvent:
        if not signature:
            raise InvalidWebhook("The Stripe-Signature header is missing.")
        try:
            event = stripe.Webhook.construct_event(payload, signature, self._webhook_secret)
        except stripe.SignatureVerificationError:
            raise InvalidWebhook("The webhook signature does not match.") from None
        except ValueError:
            raise InvalidWebhook("The webhook body is not a Stripe event.") from None
        d = as_dict(event)
        obj = (d.get("data") or {}).get("object") or {}
        if not d.get("id") or not d.get("type") or not obj.get("id"):
            raise InvalidWebhook("The webhook body is not a Stripe event.")
        return WebhookEvent(
            id=str(d["id"]),
            type=str(d["type"]),
            object_type=str(obj.get("object") or ""),
            object_id=str(obj["id"]),
            created=ts(d.get("created")) or datetime.now(UTC),
        )


def make_gateway(settings: Settings) -> PaymentGateway:
    """The gateway the settings describe: Stripe with a secret key, localstripe without.

    In the embedded default `stripe_api_base` names the localstripe the platform started;
    the app is told that address too, since it sends card details there.
    """
    if settings.stripe_secret_key:
        return StripeGateway(
            settings.stripe_secret_key,
            settings.stripe_publishable_key or "",
            settings.stripe_webhook_secret or "",
            api_base=settings.stripe_api_base,
            app_api_base=settings.stripe_api_base,
            max_network_retries=settings.stripe_max_network_retries,
            timeout_seconds=settings.stripe_timeout_seconds,
        )
    # No key and no localstripe address: every call fails as "unavailable" (port 9 on
    # loopback is closed) rather than ever reaching the real Stripe without a key.
    base = settings.stripe_api_base or "http://127.0.0.1:9"
    return StripeGateway(
        LOCAL_SECRET_KEY,
        settings.stripe_publishable_key or LOCAL_PUBLISHABLE_KEY,
        settings.stripe_webhook_secret or "",
        api_base=base,
        app_api_base=base,
        max_network_retries=settings.stripe_max_network_retries,
        timeout_seconds=settings.stripe_timeout_seconds,
    )
