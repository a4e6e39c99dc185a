"""Settling a per_session hold when the session ends (domain.md §5): capture at most the
hold, release it for nothing, charge the rest above it as a second payment.

Split out of backend.services.payments to keep that module small. Billing inherits
SettlePayments, so callers still use `Billing.settle` and import `Settlement` from
payments.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from backend.db.models.payments import Payment
from backend.errors import Conflict, InvalidInput, NotFound
from backend.services import cards
from backend.services import payment_state as st
from backend.services.payment_attempts import PaymentAttempts
from backend.services.payment_gateway import PaymentRequestRejected
from shared.money import Money


@dataclass(frozen=True)
class Settlement:
    session_ref: int
    currency: str
    amount_minor: int  # what the session cost
    captured_minor: int  # taken from the hold
    extra_minor: int  # taken by the second payment
    hold: Payment
    extra: Payment | None

    @property
    def outstanding_minor(self) -> int:
        """Not (yet) collected: a declined second payment, one awaiting 3-D Secure."""
        return self.amount_minor - self.captured_minor - self.extra_minor

    @property
    def settled(self) -> bool:
        return self.outstanding_minor == 0


def _minor(amount: Money | int, currency: str) -> int:
    if isinstance(amount, Money):
        if amount.currency != currency:
            raise InvalidInput(f"This session is paid in {currency}, not {amount.currency}.")
        return amount.minor
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("amounts are Money or integer minor units, never floats")
    return amount


class SettlePayments(PaymentAttempts):
    """The session-end half of payments.Billing, which inherits it."""

    # --- session end ---------------------------------------------------------------------

    def settle(self, s: Session, session_ref: int, amount: Money | int) -> Settlement:
        """Collect what the session cost: capture min(amount, hold); 0 releases the hold;
        the rest above the hold is a second off-session payment. Safe to call again (the
        same amount): nothing is collected twice."""
        hold = self._find(s, session_ref, st.HOLD)
        if hold is None:
            raise NotFound("No card hold was placed for this session.")
        amount_minor = _minor(amount, hold.currency)
        if amount_minor < 0:
            raise InvalidInput("A session cannot cost less than nothing.")
        if hold.final_amount_minor is not None and hold.final_amount_minor != amount_minor:
            settled = Money(hold.final_amount_minor, hold.currency)
            raise Conflict(f"This session was already settled for {settled}.")
        if hold.status in {st.PENDING, st.REQUIRES_AUTH}:
            self.reconcile(s, hold)
        if hold.final_amount_minor is None:
            hold.final_amount_minor = amount_minor
            if hold.status == st.AUTHORIZED:
                hold.status = st.CAPTURING if amount_minor else st.RELEASING
            elif hold.status in {st.PENDING, st.REQUIRES_AUTH}:
                # Never authorized: cancel what exists at Stripe; the cost (if any) is
                # then charged as a payment of its own below. (Session billing does not
                # get here with a hold the driver was asked to confirm: it waits for it.)
                hold.status = st.RELEASING if hold.stripe_payment_intent_id else st.CANCELED
            s.commit()  # write-ahead: what we are about to ask Stripe
        if hold.status in {st.CAPTURING, st.RELEASING}:
            self._finish_hold(s, hold)
        captured = st.collected(hold)
        extra = None
        if amount_minor > captured:
            extra = self._charge_extra(s, hold, amount_minor - captured)
        return Settlement(
            session_ref,
            hold.currency,
            amount_minor,
            captured,
            st.collected(extra) if extra else 0,
            hold,
            extra,
        )

    def _finish_hold(self, s: Session, hold: Payment) -> None:
        assert hold.stripe_payment_intent_id is not None
        ref = hold.session_ref
        try:
            if hold.status == st.RELEASING:
                info = self.gw.cancel(hold.stripe_payment_intent_id, f"wp-{ref}-release")
            else:
                info = self.gw.capture(
                    hold.stripe_payment_intent_id, st.capture_target(hold), f"wp-{ref}-capture"
                )
        except PaymentRequestRejected:
            # Already captured/cancelled (a retry after a crash), or the authorization
            # lapsed: Stripe's current state of the intent decides.
            info = self.gw.get_payment(hold.stripe_payment_intent_id)
        st.apply_intent(hold, info)
        s.commit()
        if hold.status in {st.CAPTURING, st.RELEASING}:  # Stripe refused; still held
            raise PaymentRequestRejected("Stripe refused to settle this hold; it is still held.")

    def _charge_extra(self, s: Session, hold: Payment, due: int) -> Payment:
        # Inherent: the hold, authorized before the start, is captured in full and the rest
        # cannot be added to it under SCA; this off-session payment may need 3-D Secure too,
        # and is then the one payment the driver is asked to confirm (billing's notice).
        p = self._find(s, hold.session_ref, st.EXTRA)
        if p is not None:
            if p.status in {st.PENDING, st.REQUIRES_AUTH}:
                self.reconcile(s, p)
            if p.status != st.PENDING or p.stripe_payment_intent_id:
                return p  # decided: a failure is retried by `retry`, not by a repeat settle
        card = cards.default_card(s, hold.driver_id)
        p = self._write_ahead(
            s,
            p,
            driver_id=hold.driver_id,
            kind=st.EXTRA,
            currency=hold.currency,
            amount_minor=due,
            key=f"wp-{hold.session_ref}-extra",
            session_ref=hold.session_ref,
            site_id=hold.site_id,
            payment_method_id=card.stripe_payment_method_id if card else hold.payment_method_id,
        )
        if p.payment_method_id is None:
            return self._no_card(s, p)
        self._create(s, p, manual_capture=False, description=f"Charging session {hold.session_ref}")
        return p
