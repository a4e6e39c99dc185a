"""per_session and monthly billing with the fake gateway (a fake of our own port) and an
in-memory database: holds, settlement, retries, lost answers, webhooks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

import backend.db.models  # noqa: F401  (every table on the metadata)
from backend.adapters.fake_payments import FakeGateway
from backend.db import Base, make_engine, make_session_factory
from backend.db.models.payments import Payment, PaymentCard, StripeEvent
from backend.errors import Conflict, NotFound
from backend.services import cards, webhooks
from backend.services.payment_gateway import (
    AuthenticationRequired,
    CardDeclined,
    InvalidWebhook,
    PaymentMethodRequired,
    PaymentProviderUnavailable,
)
from backend.services.payments import Billing
from shared.money import Money
from tests import factories as f

HOLDS = {"PLN": Decimal("100.00")}
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def s() -> Iterator[Session]:
    engine = make_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture
def gw() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def billing(gw: FakeGateway) -> Billing:
    return Billing(gw, HOLDS)


@pytest.fixture
def driver(s: Session) -> int:
    u = f.user(s)
    s.commit()
    return int(u.id)


def give_card(s: Session, gw: FakeGateway, driver: int, number: str = "4242424242424242") -> str:
    pm = gw.add_card(cards.customer_id(s, gw, driver), number)
    cards.sync_cards(s, gw, driver, NOW)
    return pm


def use(s: Session, gw: FakeGateway, driver: int, pm: str) -> None:
    card = s.scalar(select(PaymentCard).where(PaymentCard.stripe_payment_method_id == pm))
    cards.set_default(s, gw, driver, card.id)


def test_hold_capture_release_and_second_payment(s, gw, billing, driver, clock):
    give_card(s, gw, driver)
    for ref in (1, 2, 3):
        assert billing.place_hold(s, ref, driver, "PLN", clock()).status == "authorized"
    less = billing.settle(s, 1, Money.of("44.40", "PLN"))
    zero = billing.settle(s, 2, 0)
    more = billing.settle(s, 3, 13520)
    assert (less.captured_minor, less.extra, less.settled) == (4440, None, True)
    assert (zero.hold.status, zero.captured_minor) == ("released", 0)
    assert (more.captured_minor, more.extra_minor, more.extra.kind) == (10000, 3520, "extra")
    assert gw.intents[less.hold.stripe_payment_intent_id].captured == 4440
    assert gw.intents[zero.hold.stripe_payment_intent_id].info.status == "canceled"


def test_money_is_never_a_float(s, gw, billing, driver, clock):
    give_card(s, gw, driver)
    billing.place_hold(s, 1, driver, "PLN", clock())
    with pytest.raises(TypeError):
        billing.settle(s, 1, 44.4)  # type: ignore[arg-type]


def test_repeats_are_idempotent_and_a_new_amount_is_a_conflict(s, gw, billing, driver, clock):
    give_card(s, gw, driver)
    first = billing.place_hold(s, 1, driver, "PLN", clock())
    assert billing.place_hold(s, 1, driver, "PLN", clock()).id == first.id
    a = billing.settle(s, 1, 12000)
    b = billing.settle(s, 1, 12000)
    assert (a.extra.id, a.captured_minor) == (b.extra.id, b.captured_minor)
    assert gw.calls.count("create_payment") == 2 and gw.calls.count("capture") == 1
    with pytest.raises(Conflict):
        billing.settle(s, 1, 1)
    with pytest.raises(NotFound):
        billing.settle(s, 99, 1)
    with pytest.raises(Conflict):
        billing.place_hold(s, 1, driver, "PLN", clock())  # settled: no new hold
    other = f.user(s)
    s.commit()
    with pytest.raises(Conflict):
        billing.place_hold(s, 1, other.id, "PLN", clock())


def test_a_lost_answer_at_the_hold_is_found_again_not_repeated(s, gw, billing, driver, clock):
    give_card(s, gw, driver)
    gw.lose_next_answer()
    with pytest.raises(PaymentProviderUnavailable):
        billing.place_hold(s, 1, driver, "PLN", clock())
    assert s.scalar(select(Payment)).status == "pending" and len(gw.intents) == 1
    p = billing.place_hold(s, 1, driver, "PLN", clock())
    assert p.status == "authorized" and len(gw.intents) == 1


def test_a_lost_answer_at_the_capture_is_reconciled(s, gw, billing, driver, clock):
    give_card(s, gw, driver)
    p = billing.place_hold(s, 1, driver, "PLN", clock())
    gw.lose_next_answer()
    with pytest.raises(PaymentProviderUnavailable):
        billing.settle(s, 1, 3000)
    assert p.status == "capturing"
    done = billing.settle(s, 1, 3000)
    assert (done.captured_minor, p.status, gw.calls.count("capture")) == (3000, "captured", 2)
    assert gw.intents[p.stripe_payment_intent_id].captured == 3000  # captured once


def test_stripe_down_leaves_a_pending_attempt_and_no_charge(s, gw, billing, driver, clock):
    give_card(s, gw, driver)
    gw.down = True
    with pytest.raises(PaymentProviderUnavailable):
        billing.place_hold(s, 1, driver, "PLN", clock())
    gw.down = False
    assert gw.intents == {}
    assert billing.place_hold(s, 1, driver, "PLN", clock()).status == "authorized"


def test_declines_3d_secure_and_no_card(s, gw, billing, driver, clock):
    with pytest.raises(PaymentMethodRequired):
        billing.place_hold(s, 1, driver, "PLN", clock())
    give_card(s, gw, driver, "4000000000000341")
    with pytest.raises(CardDeclined):
        billing.place_hold(s, 1, driver, "PLN", clock())
    use(s, gw, driver, give_card(s, gw, driver, "4000002500003155"))
    with pytest.raises(AuthenticationRequired) as exc:
        billing.place_hold(s, 1, driver, "PLN", clock())
    p = s.scalar(select(Payment))
    assert exc.value.errors["client_secret"] == f"{p.stripe_payment_intent_id}_secret"
    assert (p.attempt, p.idempotency_key) == (2, "wp-1-hold~2")
    gw.authenticate(p.stripe_payment_intent_id)
    assert billing.place_hold(s, 1, driver, "PLN", clock()).status == "authorized"


def test_a_lapsed_hold_is_charged_in_full_as_a_second_payment(s, gw, billing, driver, clock):
    give_card(s, gw, driver)
    p = billing.place_hold(s, 1, driver, "PLN", clock())
    gw.expire(p.stripe_payment_intent_id)
    done = billing.settle(s, 1, 6000)
    assert (p.status, done.captured_minor, done.extra_minor, done.settled) == (
        "expired",
        0,
        6000,
        True,
    )


def test_a_declined_second_payment_is_retried_on_another_card(s, gw, billing, driver, clock):
    give_card(s, gw, driver)
    billing.place_hold(s, 1, driver, "PLN", clock())
    good = s.scalar(select(PaymentCard)).stripe_payment_method_id
    use(s, gw, driver, give_card(s, gw, driver, "4000000000000341"))
    done = billing.settle(s, 1, 15000)
    assert (done.extra.status, done.outstanding_minor) == ("failed", 5000)
    with pytest.raises(Conflict):
        billing.retry(s, done.hold)
    use(s, gw, driver, good)
    again = billing.retry(s, done.extra)
    assert (again.status, again.attempt, again.captured_minor) == ("succeeded", 2, 5000)
    assert billing.settle(s, 1, 15000).settled


def test_monthly_once_per_period_and_no_card_is_recorded(s, gw, billing, driver):
    op = f.operator(s)
    site = f.site(s, op)
    s.commit()
    none = billing.charge_period(s, driver, site.id, "2026-10", 1000)
    assert (none.status, none.failure_code) == ("failed", "payment_method_required")
    give_card(s, gw, driver)
    p = billing.charge_period(s, driver, site.id, "2026-11", 28887)
    assert (p.status, p.idempotency_key) == ("succeeded", f"wp-monthly-{driver}-{site.id}-2026-11")
    assert billing.charge_period(s, driver, site.id, "2026-11", 28887).id == p.id
    assert gw.calls.count("create_payment") == 1
    assert billing.retry(s, none).status == "succeeded"


def test_operator_invoiced_touches_no_card(s, gw, billing, driver, clock):
    start = billing.authorize_start(s, 1, driver, "operator_invoiced", "PLN", clock())
    assert start.decision == "no_payment_needed" and gw.calls == []


def _event(event_id: str, kind: str, obj_id: str) -> bytes:
    return json.dumps(
        {"id": event_id, "type": kind, "data": {"object": {"id": obj_id, "object": "x"}}}
    ).encode()


def test_webhook_events_are_handled_once_and_re_read(s, gw, billing, driver, clock):
    give_card(s, gw, driver, "4000002500003155")
    p = billing.charge_period(s, driver, f.site(s, f.operator(s)).id, "2026-11", 500)
    assert p.status == "requires_authentication"
    gw.authenticate(p.stripe_payment_intent_id)
    event = gw.parse_webhook(
        _event("evt_1", "payment_intent.succeeded", p.stripe_payment_intent_id), "fake-signature"
    )
    assert webhooks.handle(s, gw, billing, event, clock()) == "processed"
    assert p.status == "succeeded"
    assert webhooks.handle(s, gw, billing, event, clock()) == "duplicate"
    assert s.scalar(select(func.count()).select_from(StripeEvent)) == 1
    with pytest.raises(InvalidWebhook):
        gw.parse_webhook(_event("evt_2", "x", "y"), "forged")
