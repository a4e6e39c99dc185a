"""Stripe webhooks: verified, handled once, and never trusted for state.

The signature is checked with STRIPE_WEBHOOK_SECRET (by the gateway); an event id seen
before is acknowledged without acting again; and the event's body is only a hint: the
object it names is re-read from Stripe and our rows move to what Stripe says *now*. So
events may come twice, late, or out of order (a `payment_failed` after the retry that
succeeded) without harm.

An event whose handling fails for a reason of ours or of Stripe's (unreachable) is left
unprocessed and answered with an error, so Stripe delivers it again.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import SessionCharge
from backend.db.models.payments import Payment, PlanSubscription, StripeEvent
from backend.services import cards, notification_payments, subscription_sync, subscriptions
from backend.services.notification_events import NotificationEvent
from backend.services.payment_gateway import PaymentGateway, ProviderObjectMissing, WebhookEvent
from backend.services.payments import Billing

log = logging.getLogger("wattpass.payments")

PROCESSED, IGNORED, DUPLICATE = "processed", "ignored", "duplicate"


class DriverNotifier(Protocol):
    def notify(
        self, s: Session, user_id: int, event: NotificationEvent, *, now: datetime | None = None
    ) -> object: ...


def handle(
    s: Session,
    gw: PaymentGateway,
    billing: Billing,
    event: WebhookEvent,
    now: datetime,
    notifications: DriverNotifier | None = None,
) -> str:
    """Act on a verified event; returns processed, ignored (not ours / not needed) or
    duplicate (seen and handled before). With `notifications`, after the event's own
    changes are saved: a plan renewal's outcome reaches the driver once per invoice, and
    a payment left declined or waiting for 3-D Secure once per state of the payment
    (`notification_payments`, shared with billing: a replay tells nothing new)."""
    row = s.get(StripeEvent, event.id)
    if row is not None and row.status in {PROCESSED, IGNORED}:
        return DUPLICATE
    if row is None:
        row = StripeEvent(
            id=event.id, type=event.type[:64], object_id=event.object_id[:64], status="received"
        )
        s.add(row)
        try:
            s.commit()
        except IntegrityError:  # the same event, delivered twice at once
            s.rollback()
            return DUPLICATE
    try:
        acted = _dispatch(s, gw, billing, event, now)
    except ProviderObjectMissing:
        s.rollback()
        acted = False  # the object is gone at Stripe: nothing of ours can follow it
    row = s.get(StripeEvent, event.id)
    assert row is not None
    row.status = PROCESSED if acted else IGNORED
    row.processed_at = now
    s.commit()
    status = row.status
    log.info("stripe event %s %s: %s", event.type, event.id, status)
    if acted and notifications is not None:
        if event.type.startswith("payment_intent."):
            notification_payments.notify_intent(s, notifications, event.object_id, now)
        else:
            _notify_renewal(s, event, now, notifications)
    return status


def _notify_renewal(
    s: Session, event: WebhookEvent, now: datetime, notifications: DriverNotifier
) -> None:
    """PlanRenewed / PlanRenewalFailed for the invoice the event is about (the
    subscription's latest, for a subscription event); never raises."""
    try:
        invoice_id: str | None = None
        if event.type.startswith("invoice."):
            invoice_id = event.object_id
        elif event.type.startswith("customer.subscription."):
            invoice_id = s.scalar(
                select(PlanSubscription.latest_invoice_id).where(
                    PlanSubscription.stripe_subscription_id == event.object_id
                )
            )
        notice = subscription_sync.renewal_notice(s, invoice_id)
        if notice is not None:
            notifications.notify(s, notice[0], notice[1], now=now)
    except Exception:
        s.rollback()
        log.exception("could not tell the renewal of stripe event %s", event.id)


def _dispatch(
    s: Session, gw: PaymentGateway, billing: Billing, event: WebhookEvent, now: datetime
) -> bool:
    kind = event.type
    if kind.startswith("setup_intent."):
        return cards.record_setup(s, gw, event.object_id, now)
    if kind.startswith("payment_intent."):
        return billing.reconcile_intent(s, event.object_id)
    if kind.startswith("invoice."):
        return subscriptions.reconcile_invoice(s, gw, event.object_id, now)
    if kind.startswith("customer.subscription."):
        return subscriptions.reconcile_subscription(s, gw, event.object_id, now)
    return False


def finish_session_billing(s: Session, session_billing: Any, intent_id: str, now: datetime) -> bool:
    """A session's payment Stripe says moved (the driver passed 3-D Secure, say): bill the
    session now rather than at the next sweep, so the receipt follows the confirmation.
    The sweep remains the safety net; billing is idempotent, so both may run. Never
    raises: the event is already handled."""
    try:
        payment = s.scalar(select(Payment).where(Payment.stripe_payment_intent_id == intent_id))
        if payment is None or payment.session_ref is None:
            return False
        charge = s.scalar(
            select(SessionCharge).where(SessionCharge.session_id == payment.session_ref)
        )
        if charge is None or charge.status != "payment_pending":
            return False
        session_billing.bill_ended_session(s, payment.session_ref, now)
        return True
    except Exception:  # a decline or an outage: the sweep tries again
        s.rollback()
        log.warning("session payment %s: billing left to the sweep", intent_id, exc_info=True)
        return False
