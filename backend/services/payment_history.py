"""What a driver sees of their payments, fresh from Stripe where it may have moved, and
their retries.

A payment waiting for 3-D Secure carries the intent's client secret so the app can have
the driver confirm it (GET /me/payments?status=requires_authentication); payments still
in flight are re-read first, as a webhook may be late. A re-read or a retry that leaves a
payment declined or waiting for 3-D Secure tells the driver as every other path does,
once per state of the payment (`notification_payments`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.base import utcnow
from backend.db.models import SessionCharge
from backend.db.models.payments import Payment
from backend.errors import NotFound
from backend.services import payment_state as st
from backend.services.notification_payments import DriverNotifier, notify_payment
from backend.services.payment_gateway import PaymentProviderUnavailable
from backend.services.payments import Billing
from backend.services.visibility import valid_id

IN_FLIGHT = {st.PENDING, st.REQUIRES_AUTH}


@dataclass(frozen=True)
class DriverPayment:
    payment: Payment
    client_secret: str | None = None


def _fresh(
    s: Session, billing: Billing, p: Payment, notifications: DriverNotifier | None, now: datetime
) -> DriverPayment:
    if p.status in IN_FLIGHT:
        try:
            billing.reconcile(s, p)
        except PaymentProviderUnavailable:
            s.rollback()  # show what we know; the app may retry
        else:
            notify_payment(s, notifications, p, now)
    return _with_secret(billing, p)


def _with_secret(billing: Billing, p: Payment) -> DriverPayment:
    secret = None
    if p.status == st.REQUIRES_AUTH and p.stripe_payment_intent_id:
        try:
            secret = billing.gw.get_payment(p.stripe_payment_intent_id).client_secret
        except PaymentProviderUnavailable:
            secret = None
    return DriverPayment(p, secret)


def list_payments(
    s: Session,
    billing: Billing,
    driver_id: int,
    status: str | None,
    kind: str | None,
    *,
    notifications: DriverNotifier | None = None,
    now: datetime | None = None,
) -> list[DriverPayment]:
    q = select(Payment).where(Payment.driver_id == driver_id)
    if kind:
        q = q.where(Payment.kind == kind)
    rows = list(s.scalars(q.order_by(Payment.created_at.desc(), Payment.id.desc())))
    when = now or utcnow()
    fresh = [_fresh(s, billing, p, notifications, when) for p in rows]
    return [d for d in fresh if status is None or d.payment.status == status]


def own_payment(s: Session, driver_id: int, payment_id: int) -> Payment:
    # An id beyond the schema's 32 bits names nothing and must not reach the database.
    p = s.get(Payment, payment_id) if valid_id(payment_id) else None
    if p is None or p.driver_id != driver_id:
        raise NotFound("No such payment.")
    return p


def get_payment(
    s: Session,
    billing: Billing,
    driver_id: int,
    payment_id: int,
    *,
    notifications: DriverNotifier | None = None,
    now: datetime | None = None,
) -> DriverPayment:
    p = own_payment(s, driver_id, payment_id)
    return _fresh(s, billing, p, notifications, now or utcnow())


def retry(
    s: Session,
    billing: Billing,
    driver_id: int,
    payment_id: int,
    *,
    notifications: DriverNotifier | None = None,
    now: datetime | None = None,
    session_billing: Any = None,
) -> DriverPayment:
    """The driver pays a failed session balance or monthly charge again, on today's
    default card. Declined again, or wanted confirmed, it is told like any attempt (the
    app shows it too; the inbox keeps it for later).

    A session whose payment at its end failed (no hold had been placed at its start,
    an RFID start say) is billed again as a whole: the same session, the same charge,
    a new attempt on the same payment row, so it cannot be paid twice."""
    when = now or utcnow()
    p = own_payment(s, driver_id, payment_id)
    charge = _ended_unpaid(s, p)
    if charge is not None and session_billing is not None:
        charge.status = "priced"
        s.commit()
        session_billing.bill_ended_session(s, charge.session_id, when)
        s.refresh(p)
    else:
        p = billing.retry(s, p)
    notify_payment(s, notifications, p, when)
    return _with_secret(billing, p)


def _ended_unpaid(s: Session, p: Payment) -> SessionCharge | None:
    """The ended session a failed hold was to pay, while it is still unpaid."""
    if p.kind != st.HOLD or p.status != st.FAILED or p.session_ref is None:
        return None
    charge = s.scalar(
        select(SessionCharge).where(SessionCharge.session_id == p.session_ref).with_for_update()
    )
    return charge if charge is not None and charge.status == "payment_failed" else None
