"""Driver plans (seed 000): to charge in the public network a driver holds a plan, the
free pay-per-use plan or a paid one. Paid plans are bought with a card (payments)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models.pricing import DriverPlan, Plan
from backend.errors import Conflict, InvalidInput, NotFound
from shared import pricing

PAY_PER_USE = "pay-per-use"


def list_plans(s: Session, currency: str | None = None) -> list[Plan]:
    q = select(Plan).where(Plan.active.is_(True)).order_by(Plan.currency, Plan.monthly_fee)
    if currency:
        q = q.where(Plan.currency == currency)
    return list(s.scalars(q))


def create_plan(
    s: Session, code: str, name: str, currency: str, price_per_kwh: Decimal, monthly_fee: Decimal
) -> Plan:
    if price_per_kwh < 0 or monthly_fee < 0:
        raise InvalidInput("Prices cannot be negative.")
    if s.scalar(select(Plan).where(Plan.code == code)):
        raise Conflict("A plan with this code already exists.")
    plan = Plan(
        code=code,
        name=name,
        currency=currency,
        price_per_kwh=price_per_kwh,
        monthly_fee=monthly_fee,
    )
    s.add(plan)
    s.commit()
    return plan


def current(s: Session, driver_id: int, currency: str, at: datetime) -> DriverPlan | None:
    return s.scalar(
        select(DriverPlan)
        .join(Plan, Plan.id == DriverPlan.plan_id)
        .where(
            DriverPlan.driver_id == driver_id,
            Plan.currency == currency,
            DriverPlan.status == "active",
            DriverPlan.started_at <= at,
            (DriverPlan.ended_at.is_(None)) | (DriverPlan.ended_at > at),
        )
        .order_by(DriverPlan.started_at.desc())
        .limit(1)
    )


def accept_free_plan(
    s: Session, driver_id: int, plan_code: str, accept_terms: bool, now: datetime
) -> DriverPlan:
    """Activate a plan without a fee by accepting its terms; idempotent."""
    plan = s.scalar(select(Plan).where(Plan.code == plan_code, Plan.active.is_(True)))
    if plan is None:
        raise NotFound("No such plan.")
    if plan.monthly_fee != 0:
        raise InvalidInput(
            "This plan has a monthly fee; subscribe to it with a card.",
            errors={"plan_code": ["Paid plan."]},
        )
    if not accept_terms:
        raise InvalidInput(
            "Accept the plan's terms to activate it.", errors={"accept_terms": ["Must be true."]}
        )
    existing = current(s, driver_id, plan.currency, now)
    if existing is not None:
        if existing.plan_id == plan.id:
            return existing
        if existing.ended_at is None and _subscribed(s, existing.id):
            # Ending it here would leave Stripe charging for it every month.
            raise Conflict(
                "You have a paid plan. Cancel it first; it runs to the end of its period."
            )
        existing.ended_at, existing.status = now, "ended"
    row = DriverPlan(driver_id=driver_id, plan_id=plan.id, status="active", started_at=now)
    s.add(row)
    s.commit()
    return row


def _subscribed(s: Session, driver_plan_id: int) -> bool:
    """Is this plan a Stripe subscription (backend.services.subscriptions)?"""
    from backend.db.models.payments import PlanSubscription

    return (
        s.scalar(
            select(PlanSubscription.id).where(PlanSubscription.driver_plan_id == driver_plan_id)
        )
        is not None
    )


def to_domain(plan: Plan) -> pricing.Plan:
    return pricing.Plan(plan.code, plan.name, plan.currency, plan.price_per_kwh, plan.monthly_fee)
