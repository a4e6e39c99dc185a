"""The states of a session's charge (`SessionCharge.status`) and the one way billing
records a move between them.

A module of its own so that SessionBilling and its per-session and monthly halves
(billing_per_session, billing_monthly) share them without importing each other.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from backend.db.models import SessionCharge

PRICED, PAID, FREE = "priced", "paid", "free"
PAYMENT_PENDING, PAYMENT_FAILED = "payment_pending", "payment_failed"
AWAITING_PERIOD, CLOSING, PERIOD_CHARGED = "awaiting_period", "closing", "period_charged"
OPERATOR_INVOICED, AWAITING_COST, UNBILLABLE = "operator_invoiced", "awaiting_cost", "unbillable"
#: Nothing more happens to these on their own (a failed payment is retried on purpose).
SETTLED = {PAID, FREE, OPERATOR_INVOICED, UNBILLABLE, PAYMENT_FAILED, AWAITING_COST}


def mark(
    s: Session, charge: SessionCharge, status: str, settled: datetime | None, why: str = ""
) -> None:
    charge.status = status
    charge.failure = why[:300]
    if settled is not None:
        charge.settled_at = settled
    s.commit()
