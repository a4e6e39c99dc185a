"""The fake gateway's Stripe Billing: plans, subscriptions and their invoices in memory
(mixed into `FakeGateway`), with `renew` to start a paid or failed next period."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.services.payment_gateway import (
    CardDeclined,
    IntentInfo,
    InvoiceInfo,
    SubscriptionInfo,
)

KEY = "wattpass_key"


@dataclass
class FakeIntent:
    info: IntentInfo
    number: str
    captured: int = 0


class FakeBilling:
    # Kept by FakeGateway (a dataclass); declared here for the reader and type checkers.
    plans: dict[str, tuple[int, str]]
    subscriptions: dict[str, SubscriptionInfo]
    invoices: dict[str, InvoiceInfo]
    intents: dict[str, Any]

    def _new(self, prefix: str) -> str:
        raise NotImplementedError

    def _enter(self, name: str, key: str | None = None) -> Any:
        raise NotImplementedError

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
        raise NotImplementedError

    def create_product(self, name: str, metadata: dict[str, str], idempotency_key: str) -> str:
        self._enter("create_product")
        return self._new("prod")

    def create_plan(
        self,
        product_id: str,
        amount: int,
        currency: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> str:
        self._enter("create_plan")
        pid = self._new("plan")
        self.plans[pid] = (amount, currency)
        return pid

    def create_subscription(
        self,
        *,
        customer_id: str,
        plan_id: str,
        payment_method_id: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> SubscriptionInfo:
        self._enter("create_subscription")
        amount, currency = self.plans[plan_id]
        sid, iid = self._new("sub"), self._new("in")
        try:
            pi = self.create_payment(
                customer_id=customer_id,
                payment_method_id=payment_method_id,
                amount=amount,
                currency=currency,
                manual_capture=False,
                idempotency_key=f"{iid}-pay",
                description="plan",
                metadata={},
            )
        except CardDeclined as exc:
            pi = self.intents[exc.intent_id or ""].info
        status = "active" if pi.status == "succeeded" else "incomplete"
        end = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)
        self.invoices[iid] = InvoiceInfo(
            iid,
            "paid" if status == "active" else "open",
            customer_id,
            sid,
            amount,
            currency,
            pi.id,
            end,
        )
        self.subscriptions[sid] = SubscriptionInfo(
            sid, status, customer_id, False, end, iid, {**metadata, KEY: idempotency_key}
        )
        return self.subscriptions[sid]

    def find_subscription(self, customer_id: str, idempotency_key: str) -> SubscriptionInfo | None:
        self._enter("find_subscription")
        return next(
            (
                s
                for s in self.subscriptions.values()
                if s.customer_id == customer_id and s.metadata.get(KEY) == idempotency_key
            ),
            None,
        )

    def get_subscription(self, subscription_id: str) -> SubscriptionInfo:
        self._enter("get_subscription")
        return self.subscriptions[subscription_id]

    def cancel_subscription(self, subscription_id: str, *, at_period_end: bool) -> SubscriptionInfo:
        self._enter("cancel_subscription")
        sub = self.subscriptions[subscription_id]
        sub = (
            replace(sub, cancel_at_period_end=True)
            if at_period_end
            else replace(sub, status="canceled")
        )
        self.subscriptions[subscription_id] = sub
        return sub

    def renew(self, subscription_id: str, *, paid: bool) -> str:
        """A new period's invoice, paid or failed; returns its id."""
        sub = self.subscriptions[subscription_id]
        first = self.invoices[sub.latest_invoice_id or ""]
        iid = self._new("in")
        pid = self._new("pi")
        status = "succeeded" if paid else "requires_payment_method"
        info = IntentInfo(
            pid,
            status,
            first.amount_due,
            first.currency,
            sub.customer_id,
            None,
            "automatic",
            failure_code=None if paid else "card_declined",
            failure_message=None if paid else "Your card was declined.",
        )
        self.intents[pid] = FakeIntent(info, "")
        end = (sub.current_period_end or datetime(2026, 12, 20, tzinfo=UTC)) + timedelta(
            days=30 if paid else 0
        )
        self.invoices[iid] = replace(
            first, id=iid, status="paid" if paid else "open", payment_intent_id=pid, period_end=end
        )
        self.subscriptions[subscription_id] = replace(
            sub,
            status="active" if paid else "past_due",
            latest_invoice_id=iid,
            current_period_end=end,
        )
        return iid

    def get_invoice(self, invoice_id: str) -> InvoiceInfo:
        self._enter("get_invoice")
        return self.invoices[invoice_id]
