"""Charging drivers' cards: per_session holds and settlement, monthly charges.

domain.md §5, billing modes:
- per_session: a manual-capture hold on the default card before the charger starts; at
  the end the final amount is captured (at most the hold), a zero amount releases the
  hold, an amount above it is charged the rest as a second off-session payment (no
  incremental authorization under SCA — stack-notes);
- monthly: one off-session charge per driver, site and period after period close;
- operator_invoiced: no card involved.

Crash safety comes from `payment_attempts`: every Stripe call is written ahead with its
idempotency key and reconciled (never repeated) when its answer was lost. Settling a
hold writes the final amount and `capturing`/`releasing` before Stripe is asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import Site
from backend.db.models.enums import BillingMode
from backend.db.models.payments import Payment
from backend.errors import Conflict, InvalidInput, NotFound
from backend.services import cards
from backend.services import payment_state as st
from backend.services.billing_periods import PERIOD
from backend.services.payment_gateway import (
    CardDeclined,
    PaymentGateway,
    PaymentMethodRequired,
)

# Settlement moved with settle; re-exported because billing imports it from here.
from backend.services.payment_settle import Settlement as Settlement
from backend.services.payment_settle import SettlePayments, _minor
from shared.money import Money


@dataclass(frozen=True)
class StartPayment:
    """What the session start learns: go ahead (with a hold, a card on file for the
    monthly charge, or nothing needed) — failures are raised, never returned."""

    decision: str  # hold_placed | card_on_file | no_payment_needed
    payment: Payment | None = None


class Billing(SettlePayments):
    """The card side of charging sessions and periods; wired in `bootstrap`."""

    def __init__(self, gateway: PaymentGateway, hold_amounts: Mapping[str, Decimal]) -> None:
        super().__init__(gateway)
        self.hold_amounts = dict(hold_amounts)

    # --- session start -----------------------------------------------------------------

    def authorize_start(
        self,
        s: Session,
        session_ref: int,
        driver_id: int,
        billing_mode: str,
        currency: str,
        now: datetime,
        *,
        site_id: int | None = None,
    ) -> StartPayment:
        """Call before the remote start; an exception means: do not start."""
        if billing_mode == BillingMode.OPERATOR_INVOICED:
            return StartPayment("no_payment_needed")
        if billing_mode == BillingMode.MONTHLY:
            if cards.default_card(s, driver_id) is None:
                raise PaymentMethodRequired(
                    "Add a payment card in the app first: sessions here are billed monthly."
                )
            return StartPayment("card_on_file")
        hold = self.place_hold(s, session_ref, driver_id, currency, now, site_id=site_id)
        return StartPayment("hold_placed", hold)

    def hold_minor(self, currency: str) -> int:
        try:
            return Money.of(self.hold_amounts[currency], currency).minor
        except KeyError:
            raise InvalidInput(f"Card payments in {currency} are not set up.") from None

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
    ) -> Payment:
        """Hold the configured amount (or `amount_minor`, where the cost is already known:
        a session billed at its end) on the driver's default card (manual capture,
        off-session, confirmed at once). Idempotent per session: a repeat returns the
        hold. Raises PaymentMethodRequired, CardDeclined, AuthenticationRequired (the app
        confirms, then the start is retried) or PaymentProviderUnavailable."""
        if amount_minor is None:
            amount = self.hold_minor(currency)
        else:
            amount = _minor(amount_minor, currency)
        p = self._find(s, session_ref, st.HOLD)
        if p is not None:
            if p.driver_id != driver_id:
                raise Conflict("This session belongs to another driver.")
            if p.status in {st.PENDING, st.REQUIRES_AUTH}:
                self.reconcile(s, p)
            if p.status == st.AUTHORIZED:
                return p
            if p.status == st.REQUIRES_AUTH:
                raise self._auth_error(p)
            if p.status not in {st.FAILED, st.PENDING}:
                raise Conflict("This session's card payment is already settled.")
            # failed: a new attempt (e.g. with another card); pending: never reached Stripe
        card = cards.default_card(s, driver_id)
        if card is None:
            raise PaymentMethodRequired()
        p = self._write_ahead(
            s,
            p,
            driver_id=driver_id,
            kind=st.HOLD,
            currency=currency,
            amount_minor=amount,
            key=f"wp-{session_ref}-hold",
            session_ref=session_ref,
            site_id=site_id,
            payment_method_id=card.stripe_payment_method_id,
        )
        self._create(s, p, manual_capture=True, description=f"Charging session {session_ref}")
        if p.status == st.AUTHORIZED:
            return p
        if p.status == st.REQUIRES_AUTH:
            raise self._auth_error(p)
        if p.status == st.FAILED:
            raise CardDeclined(
                p.failure_message or st.DECLINED, intent_id=p.stripe_payment_intent_id
            )
        return p  # pending: Stripe is still processing (not with cards today)

    # --- monthly -------------------------------------------------------------------------

    def charge_period(
        self, s: Session, driver_id: int, site_id: int, period: str, amount: Money | int
    ) -> Payment:
        """One off-session charge per driver, site and period (YYYY-MM), idempotent: a
        repeat returns the same payment. Declines and 3-D Secure are recorded on the row
        (status failed / requires_authentication), not raised: this runs in a batch."""
        if not PERIOD.match(period):
            raise InvalidInput("A period is written YYYY-MM.", errors={"period": ["YYYY-MM"]})
        site = s.get(Site, site_id)
        if site is None:
            raise NotFound("No such site.")
        amount_minor = _minor(amount, site.currency)
        if amount_minor < 0:
            raise InvalidInput("A period cannot cost less than nothing.")
        p = s.scalar(
            select(Payment).where(
                Payment.driver_id == driver_id,
                Payment.site_id == site_id,
                Payment.period == period,
                Payment.kind == st.MONTHLY,
            )
        )
        if p is not None:
            if p.amount_minor != amount_minor:
                raise Conflict(
                    f"{period} was already charged {Money(p.amount_minor, site.currency)}."
                )
            if p.status in {st.PENDING, st.REQUIRES_AUTH}:
                self.reconcile(s, p)
            if p.status != st.PENDING or p.stripe_payment_intent_id:
                return p
        card = cards.default_card(s, driver_id)
        p = self._write_ahead(
            s,
            p,
            driver_id=driver_id,
            kind=st.MONTHLY,
            currency=site.currency,
            amount_minor=amount_minor,
            key=f"wp-monthly-{driver_id}-{site_id}-{period}",
            site_id=site_id,
            period=period,
            payment_method_id=card.stripe_payment_method_id if card else None,
        )
        if amount_minor == 0:
            p.status = st.NOTHING_DUE
            s.commit()
            return p
        if card is None:
            return self._no_card(s, p)
        self._create(s, p, manual_capture=False, description=f"Charging at {site.name}, {period}")
        return p
