"""An in-memory payment gateway for unit tests: a fake of our own port.

It behaves like localstripe where it matters to the services — test card numbers decide
declines and 3-D Secure, manual capture holds, one capture per intent, idempotency keys
*ignored* by default (set `honour_keys=True` to behave like Stripe) — and lets a test
break it on purpose: `down=True` (Stripe unreachable), `lose_next_answer()` (Stripe did
the work but the answer never reached us).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from backend.adapters.fake_billing import FakeBilling, FakeIntent
from backend.services.payment_gateway import (
    CardDeclined,
    CardInfo,
    IntentInfo,
    InvalidWebhook,
    InvoiceInfo,
    PaymentGateway,
    PaymentProviderUnavailable,
    PaymentRequestRejected,
    ProviderObjectMissing,
    RefundInfo,
    SetupInfo,
    SubscriptionInfo,
    WebhookEvent,
)

DECLINE_AT_ATTACH = {"4000000000000002"}
DECLINE_WHEN_CHARGED = {"4000000000000341"}
NEEDS_3DS = {"4000002500003155"}
KEY = "wattpass_key"


@dataclass
class FakeGateway(FakeBilling, PaymentGateway):
    publishable_key: str = "pk_test_fake"
    app_api_base: str | None = None
    honour_keys: bool = False
    down: bool = False
    #: Off-session payments answer "processing"; `decide_later` settles them.
    processing: bool = False
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    cards: dict[str, tuple[CardInfo, str]] = field(default_factory=dict)  # pm → (info, number)
    setups: dict[str, SetupInfo] = field(default_factory=dict)
    intents: dict[str, FakeIntent] = field(default_factory=dict)
    refunds: dict[str, tuple[str, RefundInfo]] = field(default_factory=dict)
    subscriptions: dict[str, SubscriptionInfo] = field(default_factory=dict)
    invoices: dict[str, InvoiceInfo] = field(default_factory=dict)
    plans: dict[str, tuple[int, str]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    _answers: dict[str, Any] = field(default_factory=dict)
    _lose: int = 0
    _ids: Any = field(default_factory=itertools.count)

    # --- test controls --------------------------------------------------------------------

    def lose_next_answer(self, count: int = 1) -> None:
        self._lose = count

    def add_card(self, customer_id: str, number: str = "4242424242424242") -> str:
        """A card attached to the customer the way the app + Stripe would leave it."""
        pm = self._new("pm")
        self.cards[pm] = (CardInfo(pm, "visa", number[-4:], 12, 2030, customer_id), number)
        return pm

    def authenticate(self, intent_id: str, success: bool = True) -> None:
        """The cardholder confirms (or fails) 3-D Secure in the app."""
        fi = self.intents[intent_id]
        manual = fi.info.capture_method == "manual"
        status = (
            ("requires_capture" if manual else "succeeded")
            if success
            else "requires_payment_method"
        )
        fi.info = replace(fi.info, status=status)

    def decide_later(self, intent_id: str, status: str = "requires_payment_method") -> None:
        """The processor decides a payment after answering: a late decline (default),
        "requires_action" (the bank wants 3-D Secure after all) or "succeeded"."""
        fi = self.intents[intent_id]
        failure = ("card_declined", "Your card was declined.")
        code, message = failure if status == "requires_payment_method" else (None, None)
        fi.info = replace(fi.info, status=status, failure_code=code, failure_message=message)

    # --- plumbing ---------------------------------------------------------------------------

    def _new(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    def _enter(self, name: str, key: str | None = None) -> Any:
        if self.down:
            raise PaymentProviderUnavailable()
        self.calls.append(name)
        if self.honour_keys and key is not None and key in self._answers:
            return self._answers[key]
        return None

    def _leave(self, value: Any, key: str | None = None) -> Any:
        if key is not None:
            self._answers[key] = value
        if self._lose:
            self._lose -= 1
            raise PaymentProviderUnavailable()  # what the adapter makes of a lost answer
        return value

    # --- customers and cards ----------------------------------------------------------------

    def create_customer(self, email: str, driver_id: int, idempotency_key: str) -> str:
        if (hit := self._enter("create_customer", idempotency_key)) is not None:
            return str(hit)
        cid = self._new("cus")
        self.customers[cid] = {"email": email, "driver_id": driver_id, "default": None}
        return str(self._leave(cid, idempotency_key))

    def find_customer(self, email: str, driver_id: int) -> str | None:
        self._enter("find_customer")
        return next(
            (
                c
                for c, d in self.customers.items()
                if d["email"] == email and d["driver_id"] == driver_id
            ),
            None,
        )

    def create_setup_intent(self, customer_id: str, idempotency_key: str) -> SetupInfo:
        self._enter("create_setup_intent")
        sid = self._new("seti")
        self.setups[sid] = SetupInfo(
            sid, f"{sid}_secret", "requires_payment_method", customer_id, None
        )
        return self.setups[sid]

    def confirm_setup(self, setup_intent_id: str, number: str) -> SetupInfo:
        """What the app does with the publishable key (not part of the port)."""
        setup = self.setups[setup_intent_id]
        if number in DECLINE_AT_ATTACH:
            self.setups[setup_intent_id] = replace(setup, status="canceled")
            raise CardDeclined()
        pm = self._new("pm")
        self.cards[pm] = (CardInfo(pm, "visa", number[-4:], 12, 2030, None), number)
        status = "requires_action" if number in NEEDS_3DS else "succeeded"
        self.setups[setup_intent_id] = replace(setup, status=status, payment_method_id=pm)
        return self.setups[setup_intent_id]

    def get_setup_intent(self, setup_intent_id: str) -> SetupInfo:
        self._enter("get_setup_intent")
        if setup_intent_id not in self.setups:
            raise ProviderObjectMissing("gone")
        return self.setups[setup_intent_id]

    def get_card(self, payment_method_id: str) -> CardInfo:
        self._enter("get_card")
        return self.cards[payment_method_id][0]

    def attach_card(self, payment_method_id: str, customer_id: str) -> CardInfo:
        self._enter("attach_card")
        info, number = self.cards[payment_method_id]
        if number in DECLINE_AT_ATTACH:
            raise CardDeclined()
        self.cards[payment_method_id] = (replace(info, customer_id=customer_id), number)
        return self.cards[payment_method_id][0]

    def list_cards(self, customer_id: str) -> list[CardInfo]:
        self._enter("list_cards")
        return [i for i, _ in self.cards.values() if i.customer_id == customer_id]

    def detach_card(self, payment_method_id: str) -> None:
        self._enter("detach_card")
        info, number = self.cards[payment_method_id]
        self.cards[payment_method_id] = (replace(info, customer_id=None), number)

    def set_default_card(self, customer_id: str, payment_method_id: str | None) -> None:
        self._enter("set_default_card")
        self.customers[customer_id]["default"] = payment_method_id

    def default_card_id(self, customer_id: str) -> str | None:
        self._enter("default_card_id")
        return self.customers[customer_id]["default"]  # type: ignore[no-any-return]

    # --- payments ---------------------------------------------------------------------------

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
        if (hit := self._enter("create_payment", idempotency_key)) is not None:
            return hit  # type: ignore[no-any-return]
        number = self.cards[payment_method_id][1]
        pid = self._new("pi")
        status = "requires_capture" if manual_capture else "succeeded"
        if self.processing and not manual_capture:
            status = "processing"
        failure: tuple[str | None, str | None] = (None, None)
        if number in NEEDS_3DS:
            status = "requires_action"
        elif number in DECLINE_WHEN_CHARGED:
            status = "requires_payment_method"
            failure = ("card_declined", "Your card was declined.")
        info = IntentInfo(
            id=pid,
            status=status,
            amount=amount,
            currency=currency,
            customer_id=customer_id,
            payment_method_id=payment_method_id,
            capture_method="manual" if manual_capture else "automatic",
            client_secret=f"{pid}_secret",
            metadata={**metadata, KEY: idempotency_key},
            failure_code=failure[0],
            failure_message=failure[1],
        )
        self.intents[pid] = FakeIntent(info, number, 0 if manual_capture else amount)
        if failure[0]:
            raise CardDeclined(intent_id=pid, decline_code="card_declined")
        return self._leave(info, idempotency_key)  # type: ignore[no-any-return]

    def find_payment(self, customer_id: str, idempotency_key: str) -> IntentInfo | None:
        self._enter("find_payment")
        return next(
            (
                fi.info
                for fi in self.intents.values()
                if fi.info.customer_id == customer_id
                and fi.info.metadata.get(KEY) == idempotency_key
            ),
            None,
        )

    def get_payment(self, intent_id: str) -> IntentInfo:
        self._enter("get_payment")
        if intent_id not in self.intents:
            raise ProviderObjectMissing("gone")
        return self.intents[intent_id].info

    def capture(self, intent_id: str, amount: int, idempotency_key: str) -> IntentInfo:
        self._enter("capture")
        fi = self.intents[intent_id]
        if fi.info.status != "requires_capture" or not 0 < amount <= fi.info.amount:
            raise PaymentRequestRejected("not capturable")
        fi.captured = amount
        fi.info = replace(fi.info, status="succeeded")
        return self._leave(fi.info)  # type: ignore[no-any-return]

    def cancel(self, intent_id: str, idempotency_key: str) -> IntentInfo:
        self._enter("cancel")
        fi = self.intents[intent_id]
        if fi.info.status in {"succeeded", "canceled"}:
            raise PaymentRequestRejected("not cancelable")
        fi.info = replace(fi.info, status="canceled")
        return self._leave(fi.info)  # type: ignore[no-any-return]

    def expire(self, intent_id: str) -> None:
        """The authorization lapsed (or the issuer voided it) before capture."""
        fi = self.intents[intent_id]
        fi.info = replace(fi.info, status="canceled")

    def refund(
        self, intent_id: str, amount: int, idempotency_key: str, metadata: dict[str, str]
    ) -> RefundInfo:
        if (hit := self._enter("refund", idempotency_key)) is not None:
            return hit  # type: ignore[no-any-return]
        rid = self._new("re")
        info = RefundInfo(rid, "succeeded", amount, {**metadata, KEY: idempotency_key})
        self.refunds[rid] = (intent_id, info)
        return self._leave(info, idempotency_key)  # type: ignore[no-any-return]

    def find_refund(self, intent_id: str, idempotency_key: str) -> RefundInfo | None:
        self._enter("find_refund")
        return next(
            (
                r
                for pi, r in self.refunds.values()
                if pi == intent_id and r.metadata.get(KEY) == idempotency_key
            ),
            None,
        )

    def refunded(self, intent_id: str) -> int:
        return sum(r.amount for pi, r in self.refunds.values() if pi == intent_id)

    # --- webhooks ---------------------------------------------------------------------------

    def parse_webhook(self, payload: bytes, signature: str | None) -> WebhookEvent:
        import json

        if signature != "fake-signature":
            raise InvalidWebhook("The webhook signature does not match.")
        d = json.loads(payload)
        obj = d["data"]["object"]
        return WebhookEvent(d["id"], d["type"], obj.get("object", ""), obj["id"], datetime.now(UTC))
