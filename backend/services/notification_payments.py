"""Telling a driver that a card payment needs them: declined (PaymentFailed) or waiting
for 3-D Secure (AuthenticationNeeded) — once per state of the payment.

A payment gets there on many paths: billing a session or a month, the billing sweep, the
driver's retry, the re-read when the app looks, and Stripe's webhooks (a late decline,
a failed 3-D Secure, an answer that was lost on the way). Each of them calls
`notify_payment` after its own change is committed, and the notice says what the row
says *now*, not what an event claimed: a webhook replayed, late or out of order tells
nothing a newer fact has overtaken. The notice carries a key of the payment, its attempt
and the state, and the inbox keeps one entry per user and key (`notifications.record`,
`uq_notifications_user_dedupe`), so whichever paths see the same state, in any order
and at the same time, the driver hears of it once. A new attempt (a retry) is a new
state and is told again.

Not told here:
- a hold before a session has ended: a start whose hold is declined or needs 3-D Secure
  is refused and the app shows why at once; confirming that hold does not start anything,
  and no money is owed for a session that never ran;
- plan payments: the renewal notices (PlanRenewed / PlanRenewalFailed) speak for them,
  and a first month that needs 3-D Secure is answered to the app that subscribes.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import SessionCharge
from backend.db.models.payments import Payment
from backend.services import payment_state as st
from backend.services.notification_events import (
    AuthenticationNeeded,
    NotificationEvent,
    PaymentFailed,
)
from shared.money import Money

log = logging.getLogger(__name__)


class DriverNotifier(Protocol):
    """The slice of `Notifications` used here."""

    def notify(
        self, s: Session, user_id: int, event: NotificationEvent, *, now: datetime
    ) -> object: ...


def failed_key(p: Payment) -> str:
    return f"payment_failed:{p.id}:{p.attempt}"


def authentication_key(p: Payment) -> str:
    return f"authentication_needed:{p.id}:{p.attempt}"


def payment_notice(s: Session, p: Payment) -> NotificationEvent | None:
    """The notice the payment's current state calls for, or None."""
    if p.status not in (st.FAILED, st.REQUIRES_AUTH) or p.kind == st.PLAN:
        return None
    session_id = p.session_ref if p.session_ref is not None and p.session_ref > 0 else None
    if p.kind == st.HOLD and (session_id is None or not _billed(s, session_id)):
        return None  # a start's hold: the app was answered when the start was refused
    amount = Money(p.amount_minor, p.currency)
    if p.status == st.FAILED:
        return PaymentFailed(amount, session_id, p.id, once_key=failed_key(p))
    return AuthenticationNeeded(amount, p.id, session_id, once_key=authentication_key(p))


def notify_payment(
    s: Session, notifications: DriverNotifier | None, p: Payment | None, now: datetime
) -> None:
    """Tell the driver what the payment needs of them, if anything, once per state.
    Call after your own change is committed; never raises: a notice that cannot be sent
    must not undo or fail a payment, nor a webhook's answer."""
    if notifications is None or p is None:
        return
    try:
        event = payment_notice(s, p)
        if event is not None:
            notifications.notify(s, p.driver_id, event, now=now)
    except Exception:
        s.rollback()
        log.exception("could not tell driver %s about payment %s", p.driver_id, p.id)


def notify_intent(
    s: Session, notifications: DriverNotifier | None, intent_id: str, now: datetime
) -> None:
    """`notify_payment` for the payment whose current attempt is this intent (a webhook's
    object); an intent of an earlier attempt, or not ours, tells nothing."""
    if notifications is None:
        return
    try:
        p = s.scalar(select(Payment).where(Payment.stripe_payment_intent_id == intent_id))
    except Exception:
        s.rollback()
        log.exception("could not find the payment of intent %s", intent_id)
        return
    notify_payment(s, notifications, p, now)


def _billed(s: Session, session_id: int) -> bool:
    """Billing owns the session's payment: the session ended and was priced."""
    found = s.scalar(select(SessionCharge.id).where(SessionCharge.session_id == session_id))
    return found is not None
