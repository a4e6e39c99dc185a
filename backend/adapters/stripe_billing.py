"""Stripe Billing for paid plans: Product + monthly Plan (localstripe has no /v1/prices),
Subscriptions, and their invoices."""

from __future__ import annotations

from backend.adapters.stripe_base import StripeCalls
from backend.adapters.stripe_objects import KEY, as_dict, invoice_info, ref_id, subscription_info
from backend.services.payment_gateway import (
    AuthenticationRequired,
    CardDeclined,
    InvoiceInfo,
    SubscriptionInfo,
)


class StripeBilling(StripeCalls):
    """Products, plans, subscriptions, invoices — and the customer's default card, which
    is what pays a subscription's invoices."""

    def set_default_card(self, customer_id: str, payment_method_id: str | None) -> None:
        self._call(
            "set default card",
            self._client.v1.customers.update,
            customer_id,
            params={"invoice_settings": {"default_payment_method": payment_method_id or ""}},
        )

    # --- subscriptions --------------------------------------------------------------------

    def create_product(self, name: str, metadata: dict[str, str], idempotency_key: str) -> str:
        p = self._call(
            "create product",
            self._client.v1.products.create,
            params={"name": name, "metadata": metadata},
            options={"idempotency_key": idempotency_key},
        )
        return str(p.id)

    def create_plan(
        self,
        product_id: str,
        amount: int,
        currency: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> str:
        # Plans, not Prices: localstripe has no /v1/prices (stack-notes).
        p = self._call(
            "create plan",
            self._client.v1.plans.create,
            params={
                "product": product_id,
                "amount": amount,
                "currency": currency.lower(),
                "interval": "month",
                "metadata": metadata,
            },
            options={"idempotency_key": idempotency_key},
        )
        return str(p.id)

    def create_subscription(
        self,
        *,
        customer_id: str,
        plan_id: str,
        payment_method_id: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> SubscriptionInfo:
        # The customer's default card pays (localstripe refuses default_payment_method on
        # the subscription itself), so make sure it is the one chosen.
        self.set_default_card(customer_id, payment_method_id)
        try:
            sub = self._call(
                "create subscription",
                self._client.v1.subscriptions.create,
                params={
                    "customer": customer_id,
                    "items": [{"plan": plan_id}],
                    "metadata": {**metadata, KEY: idempotency_key},
                },
                options={"idempotency_key": idempotency_key},
            )
        except (CardDeclined, AuthenticationRequired):
            found = self.find_subscription(customer_id, idempotency_key)
            if found is None:
                raise
            return found
        return subscription_info(as_dict(sub))

    def find_subscription(self, customer_id: str, idempotency_key: str) -> SubscriptionInfo | None:
        rows = self._paged(
            "list subscriptions",
            self._client.v1.subscriptions,
            {"customer": customer_id, "status": "all"},
        )
        for r in rows:
            if (r.get("metadata") or {}).get(KEY) == idempotency_key:
                return subscription_info(r)
        return None

    def get_subscription(self, subscription_id: str) -> SubscriptionInfo:
        sub = self._call(
            "read subscription", self._client.v1.subscriptions.retrieve, subscription_id
        )
        return subscription_info(as_dict(sub))

    def cancel_subscription(self, subscription_id: str, *, at_period_end: bool) -> SubscriptionInfo:
        if at_period_end:
            sub = self._call(
                "cancel subscription at period end",
                self._client.v1.subscriptions.update,
                subscription_id,
                params={"cancel_at_period_end": True},
            )
        else:
            sub = self._call(
                "cancel subscription", self._client.v1.subscriptions.cancel, subscription_id
            )
        return subscription_info(as_dict(sub))

    def get_invoice(self, invoice_id: str) -> InvoiceInfo:
        d = as_dict(self._call("read invoice", self._client.v1.invoices.retrieve, invoice_id))
        intent = ref_id(d.get("payment_intent"))
        if intent is None and "payment_intent" not in d:
            # Newer API versions: the invoice's payments are a list to expand.
            d = as_dict(
                self._call(
                    "read invoice payments",
                    self._client.v1.invoices.retrieve,
                    invoice_id,
                    params={"expand": ["payments"]},
                )
            )
            payments = (d.get("payments") or {}).get("data") or []
            if payments:
                intent = ref_id((payments[0].get("payment") or {}).get("payment_intent"))
        return invoice_info(d, intent)
