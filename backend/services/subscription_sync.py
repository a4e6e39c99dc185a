"""Following Stripe: a paid plan's subscription row and the driver's plan moved to what
Stripe's subscription and its latest invoice say (answers, webhooks, re-reads), so the
order events arrive in does not matter.

    incomplete (first payment awaits 3-D Secure) → active → past_due (renewal failed)
    → active again (paid) … → ended (cancelled, at the end of the paid period).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import DriverPlan, Plan
from backend.db.models.payments import Payment, PlanSubscription
from backend.services import cards
from backend.services import payment_state as st
from backend.services.notification_events import (
    NotificationEvent,
    PlanRenewalFailed,
    PlanRenewed,
)
from backend.services.payment_gateway import InvoiceInfo, PaymentGateway, SubscriptionInfo
from shared.money import Money

ACTIVE, INCOMPLETE, PAST_DUE, ENDED = "active", "incomplete", "past_due", "ended"
RENEWAL_FAILED = "Your plan's payment failed. Update your card in the app."


def sub_of(s: Session, driver_plan_id: int) -> PlanSubscription | None:
    return s.scalar(
        select(PlanSubscription).where(PlanSubscription.driver_plan_id == driver_plan_id)
    )


def end(dp: DriverPlan, sub: PlanSubscription, now: datetime, message: str = "") -> None:
    dp.status = ENDED
    if dp.ended_at is None or dp.ended_at > now:
        dp.ended_at = now
    if message:
        sub.failure_message = message[:300]


def apply_subscription(
    s: Session, gw: PaymentGateway, sub: PlanSubscription, info: SubscriptionInfo, now: datetime
) -> None:
    """Make the subscription row and the driver's plan match Stripe's subscription and
    its latest invoice (re-read, so the order events arrive in does not matter)."""
    sub.stripe_subscription_id = info.id
    sub.status, sub.cancel_at_period_end = info.status, info.cancel_at_period_end
    sub.current_period_end, sub.latest_invoice_id = info.current_period_end, info.latest_invoice_id
    dp = s.get(DriverPlan, sub.driver_plan_id)
    assert dp is not None
    payment = None
    if info.latest_invoice_id:
        payment = record_invoice(s, gw, sub, gw.get_invoice(info.latest_invoice_id))
    state = info.status
    if (
        state in {"active", "trialing"}
        and payment is not None
        and payment.status in {st.FAILED, st.REQUIRES_AUTH}
    ):
        state = "past_due"  # Stripe says so itself; localstripe leaves a failed renewal active
    if dp.status == ENDED:
        pass  # an ended plan does not come back; a new subscription is a new plan
    elif state in {"active", "trialing"}:
        if dp.status != ACTIVE:
            _end_others(s, dp, now)
        dp.status, sub.failure_message = ACTIVE, ""
        dp.ended_at = sub.current_period_end if sub.cancel_at_period_end else None
    elif state in {"past_due", "unpaid"}:
        dp.status = PAST_DUE
        sub.failure_message = ((payment.failure_message if payment else "") or RENEWAL_FAILED)[:300]
    elif state == "incomplete":
        dp.status = INCOMPLETE
        if payment is not None and payment.failure_message:
            sub.failure_message = payment.failure_message[:300]
    elif state in {"canceled", "incomplete_expired"}:
        end(dp, sub, now)
    s.commit()


def _end_others(s: Session, dp: DriverPlan, now: datetime) -> None:
    """A plan that becomes active replaces the driver's other plan in that currency."""
    plan = s.get(Plan, dp.plan_id)
    others = s.scalars(
        select(DriverPlan)
        .join(Plan, Plan.id == DriverPlan.plan_id)
        .where(
            DriverPlan.driver_id == dp.driver_id,
            DriverPlan.id != dp.id,
            DriverPlan.status == ACTIVE,
            Plan.currency == (plan.currency if plan else ""),
        )
    ).all()
    for other in others:
        other.status = ENDED
        if other.ended_at is None or other.ended_at > now:
            other.ended_at = now


def record_invoice(
    s: Session, gw: PaymentGateway, sub: PlanSubscription, invoice: InvoiceInfo
) -> Payment | None:
    """The subscription invoice as one of the driver's payments (kind `plan`)."""
    key = f"wp-invoice-{invoice.id}"
    p = s.scalar(select(Payment).where(Payment.idempotency_key == key))
    if p is None:
        if invoice.amount_due == 0 and invoice.payment_intent_id is None:
            return None
        p = Payment(
            driver_id=sub.driver_id,
            kind=st.PLAN,
            currency=invoice.currency,
            amount_minor=invoice.amount_due,
            status=st.PENDING,
            attempt=1,
            idempotency_key=key,
            stripe_invoice_id=invoice.id,
            captured_minor=0,
            refunded_minor=0,
            failure_code="",
            failure_message="",
        )
        s.add(p)
    if invoice.payment_intent_id:
        if p.stripe_payment_intent_id not in (None, invoice.payment_intent_id):
            # Stripe tried the invoice again with a new intent (a retry, another card).
            p.stripe_payment_intent_id = None
        st.apply_intent(p, gw.get_payment(invoice.payment_intent_id))
    elif invoice.status == "paid" and p.status not in st.FINAL:
        p.status, p.captured_minor = st.SUCCEEDED, invoice.amount_due
    s.flush()
    return p


def renewal_notice(s: Session, invoice_id: str | None) -> tuple[int, NotificationEvent] | None:
    """(driver, event) for a renewal invoice as recorded now: paid → PlanRenewed, failed
    or awaiting 3-D Secure → PlanRenewalFailed; None for a subscription's first invoice
    or one still pending. Keyed by invoice, so a replay or re-read tells nobody twice, and
    a late `payment_failed` after the payment succeeded finds it succeeded."""
    if not invoice_id:
        return None
    p = s.scalar(
        select(Payment).where(Payment.stripe_invoice_id == invoice_id, Payment.kind == st.PLAN)
    )
    if p is None:
        return None
    sub = s.scalar(
        select(PlanSubscription)
        .where(
            PlanSubscription.driver_id == p.driver_id,
            PlanSubscription.created_at <= p.created_at,
        )
        .order_by(PlanSubscription.id.desc())
        .limit(1)
    )
    if sub is None:
        return None
    earlier = s.scalar(
        select(Payment.id)
        .where(
            Payment.driver_id == p.driver_id,
            Payment.kind == st.PLAN,
            Payment.id < p.id,
            Payment.created_at >= sub.created_at,
        )
        .limit(1)
    )
    if earlier is None:
        return None  # the first month, charged (or refused) when subscribing
    plan = s.get(Plan, sub.plan_id)
    name, amount = (plan.name if plan else ""), Money(p.amount_minor, p.currency)
    if p.status == st.SUCCEEDED:
        return p.driver_id, PlanRenewed(name, amount, once_key=f"plan_renewed:{invoice_id}")
    if p.status in {st.FAILED, st.REQUIRES_AUTH}:
        key = f"plan_renewal_failed:{invoice_id}"
        return p.driver_id, PlanRenewalFailed(name, amount, once_key=key)
    return None


def reconcile_driver_plan(s: Session, gw: PaymentGateway, dp: DriverPlan, now: datetime) -> None:
    sub = sub_of(s, dp.id)
    if sub is None:
        return
    if sub.stripe_subscription_id:
        info = gw.get_subscription(sub.stripe_subscription_id)
    else:
        found = gw.find_subscription(cards.customer_id(s, gw, dp.driver_id), sub.idempotency_key)
        if found is None:
            end(dp, sub, now)
            s.commit()
            return
        info = found
    apply_subscription(s, gw, sub, info, now)


def reconcile_subscription(
    s: Session, gw: PaymentGateway, subscription_id: str, now: datetime
) -> bool:
    """Webhook `customer.subscription.*`: re-read it and follow, if it is one of ours."""
    sub = s.scalar(
        select(PlanSubscription).where(PlanSubscription.stripe_subscription_id == subscription_id)
    )
    info = gw.get_subscription(subscription_id)
    if sub is None:
        key = info.metadata.get("wattpass_key")
        sub = (
            s.scalar(select(PlanSubscription).where(PlanSubscription.idempotency_key == key))
            if key
            else None
        )
    if sub is None:
        return False
    apply_subscription(s, gw, sub, info, now)
    return True


def reconcile_invoice(s: Session, gw: PaymentGateway, invoice_id: str, now: datetime) -> bool:
    """Webhook `invoice.*` (paid, payment_failed, …): record the invoice's payment and
    follow its subscription (renewal extends it; a failure puts it past due)."""
    invoice = gw.get_invoice(invoice_id)
    if invoice.subscription_id is None:
        return False
    sub = s.scalar(
        select(PlanSubscription).where(
            PlanSubscription.stripe_subscription_id == invoice.subscription_id
        )
    )
    if sub is None:
        return reconcile_subscription(s, gw, invoice.subscription_id, now)
    record_invoice(s, gw, sub, invoice)
    apply_subscription(s, gw, sub, gw.get_subscription(invoice.subscription_id), now)
    return True
