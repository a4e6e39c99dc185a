"""The payment-gateway port: what the platform needs from a card processor (Stripe).

Services talk to this abstract class only; `backend.adapters.stripe_gateway` implements
it with stripe-python (against Stripe or localstripe) and `backend.adapters.fake_payments`
in memory for unit tests. Amounts are integer minor units (grosze, øre), currencies ISO
codes in upper case; nothing here is a float.

Failures a person must hear about are domain errors with a message they understand.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from backend.errors import DomainError

# --- domain errors ---------------------------------------------------------------------


class PaymentError(DomainError):
    """Base of every payment failure a client sees."""

    status = 402
    code = "payment_failed"


class CardDeclined(PaymentError):
    code = "card_declined"

    def __init__(
        self,
        message: str = "Your card was declined. Use another card or contact your bank.",
        *,
        decline_code: str | None = None,
        intent_id: str | None = None,
        errors: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, errors=errors)
        self.decline_code = decline_code
        self.intent_id = intent_id


class AuthenticationRequired(PaymentError):
    """The bank wants the cardholder to confirm (3-D Secure): the app must do it."""

    code = "authentication_required"

    def __init__(
        self,
        message: str = "Your bank asks you to confirm this payment. Open the app and "
        "confirm it, then try again.",
        *,
        intent_id: str | None = None,
        errors: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, errors=errors)
        self.intent_id = intent_id


class PaymentMethodRequired(PaymentError):
    code = "payment_method_required"

    def __init__(self, message: str = "Add a payment card in the app first.") -> None:
        super().__init__(message)


class PaymentProviderUnavailable(DomainError):
    """Stripe cannot be reached (or answered with an error of its own): nothing was
    charged that we do not know about; the caller may retry."""

    status = 503
    code = "payment_provider_unavailable"

    def __init__(
        self,
        message: str = "Card payments are unavailable right now. Nothing was charged; "
        "please try again in a moment.",
    ) -> None:
        super().__init__(message, headers={"Retry-After": "10"})


class PaymentRequestRejected(PaymentError):
    """The processor refused a request as invalid in the object's current state (e.g. a
    capture of an intent already captured): re-read the object and reconcile."""

    status = 409
    code = "payment_rejected"


class InvalidWebhook(DomainError):
    status = 400
    code = "invalid_signature"


class ProviderObjectMissing(PaymentError):
    """The processor does not know an object we refer to (e.g. wiped test data)."""

    status = 409
    code = "payment_object_missing"


# --- what the gateway answers ------------------------------------------------------------


@dataclass(frozen=True)
class CardInfo:
    payment_method_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    customer_id: str | None = None
    fingerprint: str | None = None


@dataclass(frozen=True)
class SetupInfo:
    setup_intent_id: str
    client_secret: str
    status: str  # requires_payment_method | requires_action | succeeded | canceled ...
    customer_id: str | None
    payment_method_id: str | None


@dataclass(frozen=True)
class IntentInfo:
    """A PaymentIntent as the processor sees it now."""

    id: str
    status: str  # requires_capture | succeeded | requires_action | requires_payment_method …
    amount: int
    currency: str
    customer_id: str | None
    payment_method_id: str | None
    capture_method: str
    client_secret: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundInfo:
    id: str
    status: str  # succeeded | pending | failed | canceled
    amount: int
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SubscriptionInfo:
    id: str
    status: str  # incomplete | active | past_due | canceled | unpaid | incomplete_expired
    customer_id: str
    cancel_at_period_end: bool
    current_period_end: datetime | None
    latest_invoice_id: str | None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class InvoiceInfo:
    id: str
    status: str  # draft | open | paid | void | uncollectible
    customer_id: str
    subscription_id: str | None
    amount_due: int
    currency: str
    payment_intent_id: str | None
    period_end: datetime | None


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    object_type: str
    object_id: str
    created: datetime


# --- the port ---------------------------------------------------------------------------


class PaymentGateway(abc.ABC):
    """Everything the platform asks of the card processor.

    Every call that creates or moves money takes an idempotency key: the processor is
    asked to treat a repeat as the same request (Stripe does; localstripe ignores it, so
    services also keep their own state machine and look intents up by that key).
    """

    publishable_key: str
    #: Where the app sends card details (localstripe's address), or None for Stripe's own.
    app_api_base: str | None = None

    # customers and cards
    @abc.abstractmethod
    def create_customer(self, email: str, driver_id: int, idempotency_key: str) -> str: ...

    @abc.abstractmethod
    def find_customer(self, email: str, driver_id: int) -> str | None: ...

    @abc.abstractmethod
    def create_setup_intent(self, customer_id: str, idempotency_key: str) -> SetupInfo: ...

    @abc.abstractmethod
    def get_setup_intent(self, setup_intent_id: str) -> SetupInfo: ...

    @abc.abstractmethod
    def get_card(self, payment_method_id: str) -> CardInfo: ...

    @abc.abstractmethod
    def attach_card(self, payment_method_id: str, customer_id: str) -> CardInfo: ...

    @abc.abstractmethod
    def list_cards(self, customer_id: str) -> list[CardInfo]: ...

    @abc.abstractmethod
    def detach_card(self, payment_method_id: str) -> None: ...

    @abc.abstractmethod
    def set_default_card(self, customer_id: str, payment_method_id: str | None) -> None: ...

    @abc.abstractmethod
    def default_card_id(self, customer_id: str) -> str | None: ...

    # payments
    @abc.abstractmethod
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
        """An off-session PaymentIntent confirmed at once. Returns it whatever its status
        (requires_capture, succeeded, requires_action); raises CardDeclined on a decline
        (with the intent's id when the processor created one)."""

    @abc.abstractmethod
    def find_payment(self, customer_id: str, idempotency_key: str) -> IntentInfo | None:
        """The intent created earlier with this key, if any (crash recovery)."""

    @abc.abstractmethod
    def get_payment(self, intent_id: str) -> IntentInfo: ...

    @abc.abstractmethod
    def capture(self, intent_id: str, amount: int, idempotency_key: str) -> IntentInfo: ...

    @abc.abstractmethod
    def cancel(self, intent_id: str, idempotency_key: str) -> IntentInfo: ...

    @abc.abstractmethod
    def refund(
        self, intent_id: str, amount: int, idempotency_key: str, metadata: dict[str, str]
    ) -> RefundInfo: ...

    @abc.abstractmethod
    def find_refund(self, intent_id: str, idempotency_key: str) -> RefundInfo | None: ...

    # subscriptions (Stripe Billing: Product + Plan + Subscription)
    @abc.abstractmethod
    def create_product(self, name: str, metadata: dict[str, str], idempotency_key: str) -> str: ...

    @abc.abstractmethod
    def create_plan(
        self,
        product_id: str,
        amount: int,
        currency: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> str: ...

    @abc.abstractmethod
    def create_subscription(
        self,
        *,
        customer_id: str,
        plan_id: str,
        payment_method_id: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> SubscriptionInfo: ...

    @abc.abstractmethod
    def find_subscription(
        self, customer_id: str, idempotency_key: str
    ) -> SubscriptionInfo | None: ...

    @abc.abstractmethod
    def get_subscription(self, subscription_id: str) -> SubscriptionInfo: ...

    @abc.abstractmethod
    def cancel_subscription(
        self, subscription_id: str, *, at_period_end: bool
    ) -> SubscriptionInfo: ...

    @abc.abstractmethod
    def get_invoice(self, invoice_id: str) -> InvoiceInfo: ...

    # webhooks
    @abc.abstractmethod
    def parse_webhook(self, payload: bytes, signature: str | None) -> WebhookEvent:
        """Verify the signature and read the event; raises InvalidWebhook."""
