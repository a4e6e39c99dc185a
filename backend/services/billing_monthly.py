"""monthly billing (domain.md §5): a session is recorded for the month of its end;
closing the month charges the saved card once per driver and site
(payments.charge_period) and issues one receipt for the month.

Split out of backend.services.billing to keep SessionBilling small: its close_month and
close_period (which document what they promise) call these with themselves.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import Receipt, SessionCharge
from backend.db.models.enums import BillingMode
from backend.services import payment_state as st
from backend.services import receipts
from backend.services.billing_periods import open_period
from backend.services.billing_status import (
    AWAITING_PERIOD,
    CLOSING,
    FREE,
    PAID,
    PERIOD_CHARGED,
    PRICED,
    UNBILLABLE,
    mark,
)
from backend.services.notification_payments import notify_payment
from backend.services.payment_gateway import PaymentProviderUnavailable

if TYPE_CHECKING:
    from backend.services.billing import SessionBilling

# billing's logger still: these records were logged under it before the split.
log = logging.getLogger("backend.services.billing")


def monthly(s: Session, charge: SessionCharge) -> None:
    if charge.status != PRICED:
        return
    if charge.driver_id is None or charge.site_id is None:
        mark(s, charge, UNBILLABLE, None, "Nobody to bill: no driver.")
        return
    # A month already closed for this driver and site takes no more sessions: a late
    # one goes into the next open month (domain.md §5, late corrections).
    charge.period = open_period(s, charge.driver_id, charge.site_id, charge.period)
    mark(s, charge, AWAITING_PERIOD, None)


def close_month(
    billing: SessionBilling, s: Session, driver_id: int, site_id: int, period: str, now: datetime
) -> Receipt | None:
    """The work of SessionBilling.close_month, whose docstring says what it promises."""
    charges = _month_charges(s, driver_id, site_id, period)
    if not charges:
        return None
    for c in charges:
        if c.status == AWAITING_PERIOD:
            c.status = CLOSING  # the month's set is fixed before the card is charged
    s.commit()
    total = sum(c.gross_minor for c in charges)
    payment = billing.payments.charge_period(s, driver_id, site_id, period, total)
    for c in charges:
        c.payment_id = payment.id
        if c.status == CLOSING:
            c.status = PERIOD_CHARGED
    s.commit()
    receipt = None
    if payment.status in st.COLLECTED:
        receipt = receipts.month_receipt(s, billing.seller, charges, payment, period, now)
        for c in charges:
            c.status, c.receipt_id, c.settled_at = PAID, receipt.id, c.settled_at or now
    elif payment.status == st.NOTHING_DUE:
        for c in charges:
            c.status, c.settled_at = FREE, c.settled_at or now
    s.commit()
    notify_payment(s, billing.notifications, payment, now)
    return receipt


def close_period(billing: SessionBilling, s: Session, period: str, now: datetime) -> list[Receipt]:
    """The work of SessionBilling.close_period, whose docstring says what it promises."""
    from backend.services import billing_coop

    billing_coop.close_ready(s, period, now)
    pairs = s.execute(
        select(SessionCharge.driver_id, SessionCharge.site_id)
        .where(
            SessionCharge.billing_mode == BillingMode.MONTHLY,
            SessionCharge.period == period,
            SessionCharge.status.in_([AWAITING_PERIOD, CLOSING, PERIOD_CHARGED]),
        )
        .distinct()
    ).all()
    out = []
    for driver_id, site_id in pairs:
        try:
            receipt = billing.close_month(s, driver_id, site_id, period, now)
        except PaymentProviderUnavailable:
            s.rollback()
            log.warning("card payments unavailable closing %s for driver %s", period, driver_id)
            continue
        if receipt is not None:
            out.append(receipt)
    return out


def _month_charges(s: Session, driver_id: int, site_id: int, period: str) -> list[SessionCharge]:
    return list(
        s.scalars(
            select(SessionCharge)
            .where(
                SessionCharge.driver_id == driver_id,
                SessionCharge.site_id == site_id,
                SessionCharge.period == period,
                SessionCharge.billing_mode == BillingMode.MONTHLY,
                SessionCharge.status.in_([AWAITING_PERIOD, CLOSING, PERIOD_CHARGED, PAID, FREE]),
            )
            .order_by(SessionCharge.started_at, SessionCharge.id)
        )
    )
