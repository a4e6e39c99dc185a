"""Paid plans with the fake gateway: the driver's plan follows Stripe's subscription."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

import backend.db.models  # noqa: F401
from backend.adapters.fake_payments import FakeGateway
from backend.db import Base, make_engine, make_session_factory
from backend.db.models import DriverPlan, Plan
from backend.db.models.payments import PlanSubscription
from backend.errors import InvalidInput
from backend.services import cards, plans, subscriptions
from backend.services.payment_gateway import CardDeclined
from tests import factories as f

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def s() -> Iterator[Session]:
    engine = make_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    with make_session_factory(engine)() as session:
        session.add_all([
            Plan(code="pay-per-use", name="Pay per use", currency="PLN",
                 price_per_kwh=Decimal("2.50"), monthly_fee=Decimal("0")),
            Plan(code="plus", name="Plus", currency="PLN",
                 price_per_kwh=Decimal("1.90"), monthly_fee=Decimal("49.00")),
        ])  # fmt: skip
        session.commit()
        yield session
    engine.dispose()


@pytest.fixture
def gw() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def driver(s: Session, gw: FakeGateway) -> int:
    u = f.user(s)
    s.commit()
    plans.accept_free_plan(s, u.id, "pay-per-use", True, NOW)
    return int(u.id)


def card(s: Session, gw: FakeGateway, driver: int, number: str = "4242424242424242") -> None:
    gw.add_card(cards.customer_id(s, gw, driver), number)
    cards.sync_cards(s, gw, driver, NOW)


def sub_of(s: Session) -> PlanSubscription:
    return s.scalar(select(PlanSubscription))  # type: ignore[return-value]


def test_subscribe_replaces_pay_per_use_and_renewals_follow_stripe(s, gw, driver):
    card(s, gw, driver)
    dp = subscriptions.subscribe(s, gw, driver, "plus", NOW)
    assert dp.status == "active" and plans.current(s, driver, "PLN", NOW).id == dp.id
    assert list(gw.plans.values()) == [(4900, "PLN")]  # the Stripe plan, created lazily
    assert subscriptions.subscribe(s, gw, driver, "plus", NOW).id == dp.id  # again: same
    with pytest.raises(InvalidInput):
        subscriptions.subscribe(s, gw, driver, "pay-per-use", NOW)

    sid = sub_of(s).stripe_subscription_id
    failed = gw.renew(sid, paid=False)
    subscriptions.reconcile_invoice(s, gw, failed, NOW)
    assert dp.status == "past_due" and "declined" in sub_of(s).failure_message
    assert plans.current(s, driver, "PLN", NOW) is None

    paid = gw.renew(sid, paid=True)
    subscriptions.reconcile_invoice(s, gw, paid, NOW)
    assert dp.status == "active" and sub_of(s).failure_message == ""
    assert sub_of(s).current_period_end > datetime(2026, 12, 20, tzinfo=UTC)  # extended


def test_cancel_runs_to_the_period_end_then_ends(s, gw, driver):
    card(s, gw, driver)
    dp = subscriptions.subscribe(s, gw, driver, "plus", NOW)
    subscriptions.cancel(s, gw, driver, dp.id, NOW)
    assert (dp.status, dp.ended_at) == ("active", sub_of(s).current_period_end)
    calls = len(gw.calls)
    assert subscriptions.cancel(s, gw, driver, dp.id, NOW) is dp  # cancelling twice: no-op
    assert len(gw.calls) == calls
    gw.cancel_subscription(sub_of(s).stripe_subscription_id, at_period_end=False)
    subscriptions.reconcile_subscription(s, gw, sub_of(s).stripe_subscription_id, NOW)
    assert dp.status == "ended"


def test_a_declined_first_payment_ends_the_attempt(s, gw, driver):
    card(s, gw, driver, "4000000000000341")
    with pytest.raises(CardDeclined):
        subscriptions.subscribe(s, gw, driver, "plus", NOW)
    assert s.get(DriverPlan, sub_of(s).driver_plan_id).status == "ended"
    assert gw.subscriptions[sub_of(s).stripe_subscription_id].status == "canceled"
    assert s.get(Plan, plans.current(s, driver, "PLN", NOW).plan_id).code == "pay-per-use"
