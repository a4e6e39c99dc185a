"""Paid plans on Stripe Billing, and the rule that public stations need a plan.

domain.md §2: to charge in the platform's public network (PUB) a driver holds a plan, a
paid one or the free pay-per-use one. Paid plans are Stripe subscriptions (a Product and
a monthly Plan per paid `Plan` row, created lazily); the driver's `DriverPlan` follows
the subscription's state as Stripe reports it (answers, webhooks, re-reads):

    incomplete (first payment awaits 3-D Secure) → active → past_due (renewal failed)
    → active again (paid) … → ended (cancelled at the end of the paid period).

Cancelling keeps the plan until the end of the period already paid for (Stripe's
`cancel_at_period_end`); a plan whose payment never went through ends at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import DriverPlan, Plan, Site
from backend.db.models.payments import Payment, PlanBilling, PlanSubscription
from backend.errors import Conflict, DomainError, InvalidInput, NotFound
from backend.services import cards, plans, pricing
from backend.services import payment_state as st
from backend.services.payment_gateway import (
    AuthenticationRequired,
    CardDeclined,
    PaymentGateway,
    PaymentMethodRequired,
)
from backend.services.subscription_sync import (
    ACTIVE,
    ENDED,
    INCOMPLETE,
    PAST_DUE,
    RENEWAL_FAILED,
    apply_subscription,
    end,
    reconcile_driver_plan,
    reconcile_invoice,
    reconcile_subscription,
    sub_of,
)
from backend.services.visibility import valid_id
from shared.money import Money

__all__ = [
    "PlanRequired",
    "cancel",
    "ensure_stripe_plan",
    "reconcile_invoice",
    "reconcile_subscription",
    "require_active_plan",
    "subscribe",
]


class PlanRequired(DomainError):
    status = 403
    code = "plan_required"


def require_active_plan(s: Session, driver_id: int, site: Site, now: datetime) -> DriverPlan | None:
    """Refuse a start at a platform-priced (PUB) station without an active plan in the
    site's currency, saying why; other sites need no plan (returns None there)."""
    if pricing.business_case(s, site.operator_id, now) != "PUB":
        return None
    held = plans.current(s, driver_id, site.currency, now)
    if held is not None:
        return held
    latest = s.scalar(
        select(DriverPlan)
        .join(Plan, Plan.id == DriverPlan.plan_id)
        .where(DriverPlan.driver_id == driver_id, Plan.currency == site.currency)
        .order_by(DriverPlan.started_at.desc(), DriverPlan.id.desc())
        .limit(1)
    )
    if latest is not None and latest.status == PAST_DUE:
        sub = sub_of(s, latest.id)
        why = sub.failure_message if sub and sub.failure_message else RENEWAL_FAILED
        raise PlanRequired(
            f"Your plan is on hold because its payment failed: {why} "
            "Pay it or choose the free pay-per-use plan to charge here."
        )
    if latest is not None and latest.status == INCOMPLETE:
        raise PlanRequired("Confirm your plan's first payment in the app to charge here.")
    raise PlanRequired(
        "Public stations are charged under a plan: choose the free pay-per-use plan or a "
        "subscription in the app first."
    )


def ensure_stripe_plan(s: Session, gw: PaymentGateway, plan: Plan) -> PlanBilling:
    """The plan's Stripe Product and monthly Plan, created the first time (or anew when
    the fee changed: a Stripe plan's amount cannot change)."""
    amount = Money.of(plan.monthly_fee, plan.currency).minor
    row = s.get(PlanBilling, plan.id)
    if row is not None and (row.amount_minor, row.currency) == (amount, plan.currency):
        return row
    meta = {"wattpass_plan": plan.code}
    product = (
        row.stripe_product_id
        if row
        else gw.create_product(plan.name, meta, f"wp-product-{plan.id}")
    )
    stripe_plan = gw.create_plan(
        product, amount, plan.currency, meta, f"wp-plan-{plan.id}-{amount}"
    )
    if row is None:
        row = PlanBilling(plan_id=plan.id, stripe_product_id=product)
        s.add(row)
    row.stripe_plan_id, row.amount_minor, row.currency = stripe_plan, amount, plan.currency
    s.commit()
    return row


def subscribe(
    s: Session, gw: PaymentGateway, driver_id: int, plan_code: str, now: datetime
) -> DriverPlan:
    """Subscribe to a paid plan with the default card. The first month is charged now;
    a decline or a bank asking for 3-D Secure is a clear error (for 3-D Secure, with what
    the app needs to confirm; the plan starts when Stripe reports the payment)."""
    plan = s.scalar(select(Plan).where(Plan.code == plan_code, Plan.active.is_(True)))
    if plan is None:
        raise NotFound("No such plan.")
    if plan.monthly_fee == 0:
        raise InvalidInput(
            "This plan has no fee: activate it by accepting its terms.",
            errors={"plan_code": ["Free plan."]},
        )
    current = plans.current(s, driver_id, plan.currency, now)
    if current is not None and current.plan_id == plan.id:
        return current
    if current is not None and sub_of(s, current.id) is not None and current.ended_at is None:
        raise Conflict(
            "You already have a paid plan. Cancel it first; it runs to the end of its period."
        )
    waiting = s.scalar(
        select(DriverPlan).where(
            DriverPlan.driver_id == driver_id,
            DriverPlan.plan_id == plan.id,
            DriverPlan.status == INCOMPLETE,
        )
    )
    if waiting is not None:
        reconcile_driver_plan(s, gw, waiting, now)
        if waiting.status == ACTIVE:
            return waiting
        if waiting.status == INCOMPLETE:
            raise _auth_error(s, gw, waiting)
    card = cards.default_card(s, driver_id)
    if card is None:
        raise PaymentMethodRequired("Add a payment card in the app to subscribe to a plan.")
    cid = cards.customer_id(s, gw, driver_id)
    billing = ensure_stripe_plan(s, gw, plan)
    dp = DriverPlan(driver_id=driver_id, plan_id=plan.id, status=INCOMPLETE, started_at=now)
    s.add(dp)
    s.flush()
    sub = PlanSubscription(
        driver_plan_id=dp.id,
        driver_id=driver_id,
        plan_id=plan.id,
        idempotency_key=f"wp-sub-{dp.id}",
        status="pending",
        cancel_at_period_end=False,
        failure_message="",
    )
    s.add(sub)
    s.commit()  # write-ahead: a crash below leaves a row that finds the subscription again
    try:
        info = gw.create_subscription(
            customer_id=cid,
            plan_id=billing.stripe_plan_id,
            payment_method_id=card.stripe_payment_method_id,
            idempotency_key=sub.idempotency_key,
            metadata={"wattpass_driver_plan_id": str(dp.id)},
        )
    except CardDeclined as exc:
        end(dp, sub, now, exc.message)
        s.commit()
        raise
    apply_subscription(s, gw, sub, info, now)
    if dp.status == ACTIVE:
        return dp
    payment = _invoice_payment(s, sub)
    if payment is not None and payment.status == st.REQUIRES_AUTH:
        raise _auth_error(s, gw, dp)
    # Declined: do not leave an incomplete subscription behind at Stripe.
    message = (payment.failure_message if payment else "") or st.DECLINED
    apply_subscription(s, gw, sub, gw.cancel_subscription(info.id, at_period_end=False), now)
    end(dp, sub, now, message)
    s.commit()
    raise CardDeclined(message)


def _auth_error(s: Session, gw: PaymentGateway, dp: DriverPlan) -> AuthenticationRequired:
    sub = sub_of(s, dp.id)
    payment = _invoice_payment(s, sub) if sub else None
    secret = None
    if payment is not None and payment.stripe_payment_intent_id:
        secret = gw.get_payment(payment.stripe_payment_intent_id).client_secret
    return AuthenticationRequired(
        "Your bank asks you to confirm the plan's first payment. Confirm it in the app; "
        "the plan starts as soon as it is paid.",
        errors={
            "driver_plan_id": dp.id,
            "payment_id": payment.id if payment else None,
            "client_secret": secret,
            "publishable_key": gw.publishable_key,
            "api_base": gw.app_api_base,
        },
    )


def _invoice_payment(s: Session, sub: PlanSubscription) -> Payment | None:
    if not sub.latest_invoice_id:
        return None
    return s.scalar(
        select(Payment).where(Payment.idempotency_key == f"wp-invoice-{sub.latest_invoice_id}")
    )


def cancel(
    s: Session, gw: PaymentGateway, driver_id: int, driver_plan_id: int, now: datetime
) -> DriverPlan:
    """End a plan. A paid plan in good standing runs to the end of the period paid for
    (Stripe cancels it then); one never paid, or past due, ends now. The free plan ends
    now. Cancelling again changes nothing."""
    # An id beyond the schema's 32 bits names nothing and must not reach the database.
    dp = s.get(DriverPlan, driver_plan_id) if valid_id(driver_plan_id) else None
    if dp is None or dp.driver_id != driver_id:
        raise NotFound("No such plan.")
    if dp.status == ENDED:
        return dp
    sub = sub_of(s, dp.id)
    if sub is None:
        dp.status, dp.ended_at = ENDED, now
        s.commit()
        return dp
    if sub.stripe_subscription_id is None:
        found = gw.find_subscription(cards.customer_id(s, gw, driver_id), sub.idempotency_key)
        if found is None:
            end(dp, sub, now)
            s.commit()
            return dp
        apply_subscription(s, gw, sub, found, now)
    if sub.cancel_at_period_end and dp.status == ACTIVE:
        return dp
    info = gw.cancel_subscription(
        sub.stripe_subscription_id or "", at_period_end=dp.status == ACTIVE
    )
    apply_subscription(s, gw, sub, info, now)
    return dp
