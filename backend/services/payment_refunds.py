"""Refunds, full or partial, by the site's operator staff or a platform admin.

A refund is recorded (minor units) against its payment and session, with the settlement
period it is carried into: settled periods never change, so money given back after a
period closed lowers the *next* settlement (domain.md §5, Settlement). The settlement
builder reads them with `for_settlement`.

Like payments, a refund row is committed before Stripe is asked and carries an
idempotency key; a refund left pending by a crash is found at Stripe by that key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.models import Site
from backend.db.models.enums import Role
from backend.db.models.payments import Payment, Refund
from backend.errors import InvalidInput, NotFound
from backend.services import payment_state as st
from backend.services.payment_gateway import PaymentGateway, PaymentRequestRejected
from backend.services.visibility import valid_id
from shared.money import Money

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"


@dataclass(frozen=True)
class Actor:
    """Who asks: operator staff act for their own operator's sites only."""

    user_id: int
    role: str
    operator_id: int | None


def visible_payment(s: Session, actor: Actor, payment_id: int, *, lock: bool = False) -> Payment:
    """The payment if the actor may see it; otherwise exactly what a missing one gives."""
    q = select(Payment).where(Payment.id == payment_id)
    # An id beyond the schema's 32 bits names nothing and must not reach the database.
    p = s.scalar(q.with_for_update() if lock else q) if valid_id(payment_id) else None
    if p is None:
        raise NotFound("No such payment.")
    if actor.role == Role.PLATFORM_ADMIN:
        return p
    site = s.get(Site, p.site_id) if p.site_id is not None else None
    if actor.role != Role.OPERATOR_STAFF or site is None or site.operator_id != actor.operator_id:
        raise NotFound("No such payment.")
    return p


def refundable_minor(s: Session, p: Payment) -> int:
    """Collected minus every refund made or under way."""
    given = s.scalar(
        select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
            Refund.payment_id == p.id, Refund.status.in_([PENDING, SUCCEEDED])
        )
    )
    return st.collected(p) - int(given or 0)


def period_of(s: Session, site_id: int | None, at: datetime) -> str:
    """The calendar month, in the site's time zone, that `at` falls in (YYYY-MM)."""
    site = s.get(Site, site_id) if site_id is not None else None
    zone = ZoneInfo(site.timezone) if site is not None else None
    local = at.astimezone(zone) if zone else at
    return local.strftime("%Y-%m")


def refund(
    s: Session,
    gw: PaymentGateway,
    actor: Actor,
    payment_id: int,
    amount: Money,
    reason: str,
    now: datetime,
) -> Refund:
    """Give back `amount` of a collected payment. More than was collected (less what was
    already refunded) is refused with the most that can still be refunded."""
    p = visible_payment(s, actor, payment_id)
    finish_pending(s, gw, p)  # what a crash or an outage interrupted, before judging
    # Two refunds at once must not both fit under the same "refundable" (PostgreSQL
    # holds the row until the new refund is committed).
    p = visible_payment(s, actor, payment_id, lock=True)
    if amount.currency != p.currency:
        raise InvalidInput(f"This payment was made in {p.currency}.")
    if amount.minor <= 0:
        raise InvalidInput("Refund a positive amount.", errors={"amount": ["Must be > 0."]})
    if p.status not in st.COLLECTED:
        raise InvalidInput("Nothing was collected on this payment, so nothing can be refunded.")
    most = refundable_minor(s, p)
    if amount.minor > most:
        raise InvalidInput(
            f"At most {Money(most, p.currency)} can still be refunded on this payment.",
            errors={"amount": [f"At most {Money(most, p.currency)}."]},
        )
    count = s.scalar(select(func.count(Refund.id)).where(Refund.payment_id == p.id)) or 0
    site = s.get(Site, p.site_id) if p.site_id is not None else None
    r = Refund(
        payment_id=p.id,
        session_ref=p.session_ref,
        operator_id=site.operator_id if site else None,
        site_id=p.site_id,
        amount_minor=amount.minor,
        currency=p.currency,
        reason=reason[:300],
        status=PENDING,
        idempotency_key=f"wp-refund-{p.id}-{count + 1}",
        period=period_of(s, p.site_id, now),
        created_by=actor.user_id,
    )
    s.add(r)
    s.commit()  # write-ahead: the refund exists before Stripe hears of it
    _execute(s, gw, p, r)
    return r


def finish_pending(s: Session, gw: PaymentGateway, p: Payment) -> None:
    """Complete refunds left pending (Stripe unreachable, or a crash before our commit):
    found at Stripe by their key, or asked for now — never twice."""
    for pending in s.scalars(
        select(Refund).where(Refund.payment_id == p.id, Refund.status == PENDING)
    ).all():
        _execute(s, gw, p, pending)


def _execute(s: Session, gw: PaymentGateway, p: Payment, r: Refund) -> None:
    assert p.stripe_payment_intent_id is not None
    info = None
    if r.stripe_refund_id is None:
        info = gw.find_refund(p.stripe_payment_intent_id, r.idempotency_key)
    if info is None:
        try:
            info = gw.refund(
                p.stripe_payment_intent_id,
                r.amount_minor,
                r.idempotency_key,
                {"wattpass_refund_id": str(r.id), "reason": r.reason[:200]},
            )
        except PaymentRequestRejected:
            r.status = FAILED
            s.commit()
            raise
    r.stripe_refund_id = info.id
    if info.status in {"succeeded", "pending"}:
        # Stripe's "pending" refund is on its way to the card: count it as given.
        r.status = SUCCEEDED
        p.refunded_minor = sum(
            x.amount_minor
            for x in s.scalars(select(Refund).where(Refund.payment_id == p.id))
            if x.status == SUCCEEDED
        )
    else:
        r.status = FAILED
    s.commit()


def for_settlement(s: Session, operator_id: int, period: str) -> list[Refund]:
    """Refunds made in `period` at the operator's sites, for the settlement builder."""
    return list(
        s.scalars(
            select(Refund)
            .where(
                Refund.operator_id == operator_id,
                Refund.period == period,
                Refund.status == SUCCEEDED,
            )
            .order_by(Refund.id)
        )
    )


def refunds_of(s: Session, payment_id: int) -> list[Refund]:
    return list(
        s.scalars(select(Refund).where(Refund.payment_id == payment_id).order_by(Refund.id))
    )
