"""per_session billing (domain.md §5): the hold placed at the start is settled with the
final amount (none was placed: one for exactly the cost is placed now and settled at
once); paid, a receipt.

Split out of backend.services.billing to keep SessionBilling small; it calls
`per_session` with itself for its card payments and seller.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import Payment, SessionCharge
from backend.errors import Conflict, NotFound
from backend.services import payment_state as st
from backend.services import receipts
from backend.services.billing_status import (
    FREE,
    PAID,
    PAYMENT_FAILED,
    PAYMENT_PENDING,
    PRICED,
    UNBILLABLE,
    mark,
)
from backend.services.payment_gateway import (
    AuthenticationRequired,
    PaymentError,
    PaymentProviderUnavailable,
    PaymentRequestRejected,
)

if TYPE_CHECKING:
    from backend.services.billing import SessionBilling


def per_session(billing: SessionBilling, s: Session, charge: SessionCharge, now: datetime) -> None:
    if charge.status in (PRICED, PAYMENT_PENDING):
        collect(billing, s, charge, now)
    if charge.status == PAID and charge.receipt_id is None:
        payment = s.get(Payment, charge.payment_id) if charge.payment_id else None
        receipt = receipts.session_receipt(s, billing.seller, charge, payment, now)
        charge.receipt_id = receipt.id
        s.commit()


def collect(billing: SessionBilling, s: Session, charge: SessionCharge, now: datetime) -> None:
    amount = charge.gross_minor
    hold = s.scalar(
        select(Payment).where(Payment.session_ref == charge.session_id, Payment.kind == st.HOLD)
    )
    if hold is None and amount == 0:
        mark(s, charge, FREE, now)
        return
    # No hold was placed at the start (an RFID start, say), or it never reached the
    # card processor: hold exactly the cost now (idempotent per session), settle at
    # once. Should the bank want 3-D Secure, that one payment waits for the driver —
    # never voided for a second one, which would ask them twice — and is then
    # captured whole.
    if amount and (hold is None or hold.status in (st.PENDING, st.FAILED, st.REQUIRES_AUTH)):
        if charge.driver_id is None:
            mark(s, charge, UNBILLABLE, now, "Nobody to bill: no driver.")
            return
        in_flight = hold is not None and hold.status in (st.PENDING, st.REQUIRES_AUTH)
        if hold is not None and in_flight:
            billing.payments.reconcile(s, hold)  # confirmed, failed, or still waiting?
            if hold.status == st.REQUIRES_AUTH:
                mark(s, charge, PAYMENT_PENDING, None, hold.failure_message)
                return
        if (
            hold is not None
            and hold.status == st.FAILED
            and (in_flight or charge.status == PAYMENT_PENDING)
        ):
            # The attempt under way failed (3-D Secure not passed, a late decline): that
            # is the outcome, not a cue to ask again each sweep (`retry_failed` does).
            mark(s, charge, PAYMENT_FAILED, None, hold.failure_message)
            return
        try:
            billing.payments.place_hold(
                s,
                charge.session_id,
                charge.driver_id,
                charge.currency,
                now,
                site_id=charge.site_id,
                amount_minor=amount,
            )
        except PaymentProviderUnavailable:
            raise
        except AuthenticationRequired as exc:
            mark(s, charge, PAYMENT_PENDING, None, exc.message)
            return
        except PaymentError as exc:
            mark(s, charge, PAYMENT_FAILED, None, exc.message)
            return
    try:
        done = billing.payments.settle(s, charge.session_id, amount)
    except (PaymentProviderUnavailable, PaymentRequestRejected):
        raise  # transient: the outbox tries again
    except (PaymentError, Conflict, NotFound) as exc:
        mark(s, charge, PAYMENT_FAILED, None, exc.message)
        return
    charge.payment_id = done.hold.id
    if done.settled:
        mark(s, charge, PAID if amount else FREE, now)
    else:
        reason = done.extra.failure_message if done.extra is not None else ""
        mark(s, charge, PAYMENT_PENDING, None, reason or "Payment not completed yet.")
