"""Billing an ended charging session: price it, collect or record it, document it, tell
the driver (domain.md §5, billing modes).

    billing = SessionBilling(payments, seller, notifications)
    billing.bill_ended_session(s, session_id, now)     # the session-ended port calls this
    billing.close_month(s, driver_id, site_id, "2026-11", now)

Each step is recorded on the session's `SessionCharge` before the next one starts, so a
call that failed half-way (Stripe out of reach) resumes where it stopped, and a call for
a session already billed changes nothing.

- per_session: the hold placed at the start is settled with the final amount (none was
  placed, e.g. an RFID start: one for exactly the cost is placed now and settled at once);
  paid, a receipt.
- monthly: recorded for the month of the session's end; `close_month` charges the
  saved card once (payments.charge_period) and issues one receipt for the month.
- operator_invoiced (P2 hotel guests): no card; the session is on the operator's
  per-code statement, and the guest gets a charging-service statement.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import ChargingSession, Payment, Receipt, SessionCharge, Site
from backend.db.models.enums import BillingMode
from backend.errors import Conflict, NotFound
from backend.services import billing_monthly, billing_per_session, billing_pricing, receipts
from backend.services import payment_state as st

# The statuses live in billing_status (shared with the per-session and monthly halves);
# re-exported here, where they always were.
from backend.services.billing_status import AWAITING_COST as AWAITING_COST
from backend.services.billing_status import AWAITING_PERIOD as AWAITING_PERIOD
from backend.services.billing_status import CLOSING as CLOSING
from backend.services.billing_status import FREE as FREE
from backend.services.billing_status import (
    OPERATOR_INVOICED,
    PAYMENT_FAILED,
    PAYMENT_PENDING,
    PRICED,
    UNBILLABLE,
)
from backend.services.billing_status import PAID as PAID
from backend.services.billing_status import PERIOD_CHARGED as PERIOD_CHARGED
from backend.services.billing_status import SETTLED as SETTLED
from backend.services.notification_events import NotificationEvent, PaymentFailed, SessionEnded
from backend.services.notification_payments import notify_payment
from backend.services.payment_gateway import PaymentError
from backend.services.payments import Settlement
from backend.services.receipts import Seller
from shared.money import Money

log = logging.getLogger(__name__)


class CardPayments(Protocol):
    """What billing needs of the payments module (backend.services.payments.Billing)."""

    def place_hold(
        self,
        s: Session,
        session_ref: int,
        driver_id: int,
        currency: str,
        now: datetime,
        *,
        site_id: int | None = None,
        amount_minor: int | None = None,
    ) -> Payment: ...

    def settle(self, s: Session, session_ref: int, amount: Money | int) -> Settlement: ...

    def reconcile(self, s: Session, p: Payment) -> Payment: ...

    def charge_period(
        self, s: Session, driver_id: int, site_id: int, period: str, amount: Money | int
    ) -> Payment: ...


class DriverNotifier(Protocol):
    def notify(
        self, s: Session, user_id: int, event: NotificationEvent, *, now: datetime
    ) -> object: ...


class SessionBilling:
    def __init__(
        self,
        payments: CardPayments,
        seller: Seller,
        notifications: DriverNotifier | None = None,
    ) -> None:
        self.payments = payments
        self.seller = seller
        self.notifications = notifications

    # --- the session-ended port's work ----------------------------------------------------

    def bill_ended_session(self, s: Session, session_id: int, now: datetime) -> SessionCharge:
        """Price, collect, document and notify, once per session (commits)."""
        charge = self.charge_of(s, session_id, now)
        if charge.billing_mode == BillingMode.PER_SESSION:
            billing_per_session.per_session(self, s, charge, now)
        elif charge.billing_mode == BillingMode.MONTHLY:
            billing_monthly.monthly(s, charge)
        elif charge.billing_mode == BillingMode.OPERATOR_INVOICED:
            self._operator_invoiced(s, charge, now)
        self._notify(s, charge, now)
        if charge.billing_mode == BillingMode.PER_SESSION and charge.status in (
            PAYMENT_PENDING,
            PAYMENT_FAILED,
        ):
            payment = _session_payment(s, charge.session_id)
            if payment is None and charge.status == PAYMENT_FAILED and charge.driver_id:
                # No card to hold on at all: no payment row, the charge says it failed.
                event = PaymentFailed(
                    Money(charge.gross_minor, charge.currency),
                    charge.session_id,
                    once_key=f"payment_failed:session:{charge.session_id}",
                )
                if self.notifications is not None:
                    self.notifications.notify(s, charge.driver_id, event, now=now)
            notify_payment(s, self.notifications, payment, now)
        return charge

    def charge_of(self, s: Session, session_id: int, now: datetime) -> SessionCharge:
        """The session's priced charge, priced the first time (commits)."""
        found = _charge(s, session_id)
        if found is not None:
            return found
        session = s.get(ChargingSession, session_id)
        if session is None:
            raise NotFound("No such charging session.")
        if session.status not in billing_pricing.ENDED:
            raise Conflict("This session has not ended yet.")
        try:
            values = billing_pricing.price_session_row(s, session_id).values
        except billing_pricing.Unbillable as exc:
            values = billing_pricing.unbillable_values(s, session, str(exc))
        charge = SessionCharge(**values, priced_at=now, updated_at=now)
        s.add(charge)
        try:
            s.commit()
        except IntegrityError:  # priced meanwhile by another delivery of the same notice
            s.rollback()
            found = _charge(s, session_id)
            if found is None:
                raise
            return found
        return charge

    # --- monthly ----------------------------------------------------------------------------

    def close_month(
        self, s: Session, driver_id: int, site_id: int, period: str, now: datetime
    ) -> Receipt | None:
        """Charge the driver's month at the site once and issue its receipt (commits).
        Idempotent: again, it returns the same receipt; a declined charge is retried with
        the payments module (`retry`), then this is called again."""
        return billing_monthly.close_month(self, s, driver_id, site_id, period, now)

    def close_period(self, s: Session, period: str, now: datetime) -> list[Receipt]:
        """close_month for every driver and site with sessions waiting in `period`;
        first the variable-cost (co-op) sites whose month can be closed (readings
        complete, month over): their sessions get their share of the actual cost and
        are charged with the others (billing_coop)."""
        return billing_monthly.close_period(self, s, period, now)

    # --- operator_invoiced --------------------------------------------------------------

    def _operator_invoiced(self, s: Session, charge: SessionCharge, now: datetime) -> None:
        if charge.status == PRICED:
            charge.status, charge.settled_at = OPERATOR_INVOICED, now
        if charge.status == OPERATOR_INVOICED and charge.receipt_id is None and charge.driver_id:
            statement = receipts.guest_statement(s, self.seller, charge, now)
            charge.receipt_id = statement.id
        s.commit()

    # --- afterwards ---------------------------------------------------------------------

    def _notify(self, s: Session, charge: SessionCharge, now: datetime) -> None:
        """The driver hears once that the session ended, with its energy and amount."""
        if self.notifications is None or charge.driver_id is None or charge.notified_at:
            return
        if charge.status in (PRICED, UNBILLABLE):
            return
        # Claimed with one conditional UPDATE: the session-ended port and the retry sweep
        # may bill the same session at once, and only one of them may tell the driver.
        claimed = s.execute(
            update(SessionCharge)
            .where(SessionCharge.id == charge.id, SessionCharge.notified_at.is_(None))
            .values(notified_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return  # told already, or being told by the other caller
        charge.notified_at = now
        site = s.get(Site, charge.site_id) if charge.site_id else None
        event = SessionEnded(
            charge.session_id,
            site.name if site is not None else "",
            Decimal(charge.energy_wh).scaleb(-3),
            Money(charge.gross_minor, charge.currency),
        )
        self.notifications.notify(s, charge.driver_id, event, now=now)
        s.commit()

    def bill_pending(
        self, s: Session, now: datetime, *, retry_failed: bool = False, limit: int = 200
    ) -> int:
        """A worker's sweep: finish charges left half-way (Stripe was down, 3-D Secure
        was pending; with `retry_failed`, declined ones too) and issue correction notes
        for refunds. The number of charges looked at."""
        wanted = [PRICED, PAYMENT_PENDING] + ([PAYMENT_FAILED] if retry_failed else [])
        ids: Sequence[int] = s.scalars(
            select(SessionCharge.session_id)
            .where(SessionCharge.status.in_(wanted))
            .order_by(SessionCharge.id)
            .limit(limit)
        ).all()
        for session_id in ids:
            charge = _charge(s, session_id)
            if charge is not None and charge.status == PAYMENT_FAILED:
                charge.status = PRICED
                s.commit()
            try:
                self.bill_ended_session(s, session_id, now)
            except PaymentError:
                s.rollback()
                log.warning("billing session %s must wait", session_id)
        self.issue_corrections(s, now)
        return len(ids)

    def issue_corrections(self, s: Session, now: datetime) -> list[Receipt]:
        """Correction notes for refunds on receipted payments not yet corrected."""
        from backend.db.models import Refund

        done = select(Receipt.refund_id).where(Receipt.refund_id.is_not(None))
        pending = s.scalars(
            select(Refund)
            .where(Refund.status == "succeeded", Refund.id.not_in(done))
            .order_by(Refund.id)
        ).all()
        out = []
        for refund in pending:
            note = receipts.correction(s, self.seller, refund, now)
            s.commit()
            if note is not None:
                out.append(note)
        return out


def _charge(s: Session, session_id: int) -> SessionCharge | None:
    return s.scalar(select(SessionCharge).where(SessionCharge.session_id == session_id))


def _session_payment(s: Session, session_id: int) -> Payment | None:
    """The session's payment that decides its outcome: the second payment if one was
    made, else the hold."""
    found = {
        p.kind: p
        for p in s.scalars(
            select(Payment).where(
                Payment.session_ref == session_id, Payment.kind.in_([st.HOLD, st.EXTRA])
            )
        )
    }
    return found.get(st.EXTRA) or found.get(st.HOLD)
