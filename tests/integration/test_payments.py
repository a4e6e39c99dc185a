"""per_session billing against a real localstripe: the hold before the start, the capture
at the end (less than the hold, nothing, more than the hold), declines at start and at
the end, 3-D Secure, and the two failures that must never charge twice: Stripe out of
reach, and our database failing between Stripe's answer and the commit."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from backend.adapters.stripe_gateway import make_gateway
from backend.db.models.payments import Payment
from backend.errors import Conflict
from backend.services import payment_state as st
from backend.services.payment_gateway import (
    AuthenticationRequired,
    CardDeclined,
    PaymentMethodRequired,
    PaymentProviderUnavailable,
)
from backend.services.payments import Billing
from shared.money import Money
from tests import factories as f
from tests.payments_fixtures import (
    DECLINED_AT_ATTACH,
    DECLINED_WHEN_CHARGED,
    NEEDS_3DS,
    OK_CARD,
    save_card,
)

HOLD = 10000  # PLN 100.00, the default hold


@pytest.fixture
def settings(settings, stripe_env):  # type: ignore[no-untyped-def]
    return stripe_env.settings_for(settings)


@dataclasses.dataclass
class World:
    driver: Any
    headers: dict[str, str]
    site_id: int
    billing: Billing

    @property
    def id(self) -> int:
        return int(self.driver.id)


@pytest.fixture
def world(client, session, container):  # type: ignore[no-untyped-def]
    op = f.operator(session)
    site = f.site(session, op)
    u = f.user(session)
    session.commit()
    return World(u, f.login(client, u), site.id, container.billing)


def customer_of(session, world) -> str:  # type: ignore[no-untyped-def]
    from backend.services.cards import customer_id

    return customer_id(session, world.billing.gw, world.id)


def hold(session, world, clock, ref=101):  # type: ignore[no-untyped-def]
    return world.billing.place_hold(session, ref, world.id, "PLN", clock(), site_id=world.site_id)


@contextmanager
def commit_fails_once(session, when: Callable[[Payment], bool]) -> Iterator[None]:
    """The database refuses the first commit that would record `when` — i.e. after Stripe
    answered, before our row says so (as if the process died there)."""
    armed = {"on": True}

    def boom(sess):  # type: ignore[no-untyped-def]
        rows = [o for o in (*sess.new, *sess.dirty) if isinstance(o, Payment)]
        if armed["on"] and any(when(p) for p in rows):
            armed["on"] = False
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    event.listen(session, "before_commit", boom)
    try:
        yield
    finally:
        event.remove(session, "before_commit", boom)
        assert not armed["on"], "the injected failure never happened"


def fresh(container):  # type: ignore[no-untyped-def]
    """A new request's database session, as the retry after a crash would have."""
    return container.session_factory()


# --- the journeys ------------------------------------------------------------------------


def test_hold_then_capture_less_than_the_hold(client, session, world, clock, stripe_env):
    save_card(client, world.headers, stripe_env)
    p = hold(session, world, clock)
    assert (p.kind, p.status, p.amount_minor, p.currency) == ("hold", "authorized", HOLD, "PLN")
    pi = stripe_env.admin.v1.payment_intents.retrieve(p.stripe_payment_intent_id)
    assert (pi.status, pi.amount, pi.capture_method) == ("requires_capture", HOLD, "manual")
    assert pi.metadata["wattpass_key"] == "wp-101-hold"

    done = world.billing.settle(session, 101, Money.of("44.40", "PLN"))
    assert (done.captured_minor, done.extra_minor, done.settled) == (4440, 0, True)
    assert (p.status, p.captured_minor) == ("captured", 4440)
    pi = stripe_env.admin.v1.payment_intents.retrieve(p.stripe_payment_intent_id).to_dict()
    assert pi["status"] == "succeeded"
    charge = pi["latest_charge"]
    assert charge["amount"] - charge["amount_refunded"] == 4440  # the rest went back


def test_a_session_costing_nothing_releases_the_hold(client, session, world, clock, stripe_env):
    save_card(client, world.headers, stripe_env)
    p = hold(session, world, clock)
    done = world.billing.settle(session, 101, 0)
    assert (done.captured_minor, done.extra_minor, p.status) == (0, 0, "released")
    pi = stripe_env.admin.v1.payment_intents.retrieve(p.stripe_payment_intent_id)
    assert pi.status == "canceled"


def test_a_cost_above_the_hold_is_a_second_payment(client, session, world, clock, stripe_env):
    save_card(client, world.headers, stripe_env)
    p = hold(session, world, clock)
    done = world.billing.settle(session, 101, Money.of("135.20", "PLN"))
    assert (done.captured_minor, done.extra_minor, done.settled) == (HOLD, 3520, True)
    extra = done.extra
    assert extra is not None and (extra.kind, extra.status, extra.amount_minor) == (
        "extra",
        "succeeded",
        3520,
    )
    pi = stripe_env.admin.v1.payment_intents.retrieve(extra.stripe_payment_intent_id)
    assert (pi.status, pi.amount, pi.capture_method) == ("succeeded", 3520, "automatic_async")
    assert pi.metadata["wattpass_key"] == "wp-101-extra"
    assert p.status == "captured"


def test_settling_twice_collects_once(client, session, world, clock, stripe_env):
    save_card(client, world.headers, stripe_env)
    hold(session, world, clock)
    assert hold(session, world, clock).status == "authorized"  # a repeated start: same hold
    first = world.billing.settle(session, 101, 13520)
    second = world.billing.settle(session, 101, 13520)
    assert (second.captured_minor, second.extra_minor) == (first.captured_minor, first.extra_minor)
    assert second.extra.id == first.extra.id
    assert len(stripe_env.intents(customer_of(session, world))) == 2  # hold + extra, once
    with pytest.raises(Conflict):
        world.billing.settle(session, 101, 5000)


def test_no_card_or_a_card_declined_at_setup_stops_the_start(
    client, session, world, clock, stripe_env
):
    setup = client.post("/me/cards/setup-intent", headers=world.headers).json
    stripe_env.confirm_setup(setup, DECLINED_AT_ATTACH)
    client.post("/me/cards/sync", headers=world.headers)
    with pytest.raises(PaymentMethodRequired) as exc:
        hold(session, world, clock)
    assert exc.value.status == 402 and "card" in exc.value.message


def test_a_card_declined_when_charged_stops_the_start_then_another_card_works(
    client, session, world, clock, stripe_env
):
    save_card(client, world.headers, stripe_env, DECLINED_WHEN_CHARGED)
    with pytest.raises(CardDeclined) as exc:
        hold(session, world, clock)
    assert exc.value.code == "card_declined" and "declined" in exc.value.message
    p = session.scalar(select(Payment))
    assert (p.status, p.failure_code) == ("failed", "card_declined")

    cards = save_card(client, world.headers, stripe_env, OK_CARD)
    good = next(c for c in cards if c["last4"] == "4242")
    client.post(f"/me/cards/{good['id']}/default", headers=world.headers)
    again = hold(session, world, clock)
    assert (again.id, again.status, again.attempt) == (p.id, "authorized", 2)
    assert again.idempotency_key == "wp-101-hold~2"  # a new key: Stripe would replay the decline


def test_decline_at_the_end_leaves_the_rest_outstanding_until_paid(
    client, session, world, clock, stripe_env
):
    save_card(client, world.headers, stripe_env)
    p = hold(session, world, clock)
    # The driver switches to a card that will decline; the authorization meanwhile lapses.
    stripe_env.attach_card(customer_of(session, world), DECLINED_WHEN_CHARGED)
    cards = client.get("/me/cards", headers=world.headers).json
    bad = next(c for c in cards if c["last4"] == "0341")
    client.post(f"/me/cards/{bad['id']}/default", headers=world.headers)
    stripe_env.admin.v1.payment_intents.cancel(p.stripe_payment_intent_id)

    done = world.billing.settle(session, 101, 6000)
    assert (p.status, done.captured_minor, done.extra_minor) == ("expired", 0, 0)
    assert done.outstanding_minor == 6000 and not done.settled
    assert (done.extra.status, done.extra.failure_code) == ("failed", "card_declined")

    listed = client.get("/me/payments?status=failed", headers=world.headers).json
    assert [x["id"] for x in listed] == [done.extra.id]
    assert listed[0]["amount"] == "60.00" and "declined" in listed[0]["failure_message"]
    good = next(c for c in cards if c["last4"] == "4242")
    client.post(f"/me/cards/{good['id']}/default", headers=world.headers)
    paid = client.post(f"/me/payments/{done.extra.id}/retry", headers=world.headers)
    assert paid.status_code == 200 and paid.json["status"] == "succeeded"
    assert paid.json["captured"] == "60.00"


def test_3d_secure_at_the_start_is_confirmed_in_the_app(client, session, world, clock, stripe_env):
    stripe_env.attach_card(customer_of(session, world), NEEDS_3DS)
    client.post("/me/cards/sync", headers=world.headers)
    with pytest.raises(AuthenticationRequired) as exc:
        hold(session, world, clock)
    assert exc.value.status == 402
    secret = exc.value.errors["client_secret"]
    assert secret and exc.value.errors["publishable_key"].startswith("pk_")
    status, _ = stripe_env.authenticate(secret)
    assert status == 200
    p = hold(session, world, clock)  # the start is retried after confirming
    assert p.status == "authorized"
    assert len(stripe_env.intents(customer_of(session, world))) == 1


def test_operator_invoiced_needs_no_card_and_monthly_needs_one(
    client, session, world, clock, stripe_env
):
    free = world.billing.authorize_start(
        session, 7, world.id, "operator_invoiced", "PLN", clock(), site_id=world.site_id
    )
    assert (free.decision, free.payment) == ("no_payment_needed", None)
    with pytest.raises(PaymentMethodRequired):
        world.billing.authorize_start(session, 8, world.id, "monthly", "PLN", clock())
    assert session.scalar(select(func.count(Payment.id))) == 0
    save_card(client, world.headers, stripe_env)
    assert world.billing.authorize_start(
        session, 8, world.id, "monthly", "PLN", clock()
    ).decision == ("card_on_file")
    held = world.billing.authorize_start(session, 9, world.id, "per_session", "PLN", clock())
    assert (held.decision, held.payment.status) == ("hold_placed", "authorized")


# --- Stripe out of reach --------------------------------------------------------------------


def test_stripe_outage_at_the_start_is_clear_and_nothing_is_lost(
    client, session, container, world, clock, settings, stripe_env
):
    save_card(client, world.headers, stripe_env)
    customer_of(session, world)
    live = container.billing.gw
    world.billing.gw = make_gateway(
        dataclasses.replace(settings, stripe_api_base="http://127.0.0.1:9")
    )
    with pytest.raises(PaymentProviderUnavailable) as exc:
        hold(session, world, clock)
    assert exc.value.status == 503 and "Nothing was charged" in exc.value.message
    p = session.scalar(select(Payment))
    assert (p.status, p.stripe_payment_intent_id) == ("pending", None)  # the attempt is on record

    world.billing.gw = live  # Stripe is back; the start is retried
    assert hold(session, world, clock).status == "authorized"
    assert len(stripe_env.intents(customer_of(session, world))) == 1


def test_stripe_outage_at_the_end_keeps_the_hold_until_settled(
    client, session, world, clock, settings, stripe_env
):
    save_card(client, world.headers, stripe_env)
    p = hold(session, world, clock)
    live = world.billing.gw
    world.billing.gw = make_gateway(
        dataclasses.replace(settings, stripe_api_base="http://127.0.0.1:9")
    )
    with pytest.raises(PaymentProviderUnavailable):
        world.billing.settle(session, 101, 2500)
    assert (p.status, p.final_amount_minor) == ("capturing", 2500)  # what is owed is known
    world.billing.gw = live
    done = world.billing.settle(session, 101, 2500)
    assert (done.captured_minor, p.status) == (2500, "captured")


# --- the database failing between Stripe's answer and our commit ------------------------------


def test_a_crash_after_the_hold_is_reconciled_not_repeated(
    client, session, container, world, clock, stripe_env
):
    save_card(client, world.headers, stripe_env)
    cus = customer_of(session, world)
    with (
        commit_fails_once(session, lambda p: p.stripe_payment_intent_id is not None),
        pytest.raises(OperationalError),
    ):
        hold(session, world, clock)
    session.rollback()
    assert len(stripe_env.intents(cus)) == 1  # Stripe holds the money…
    with fresh(container) as s:
        row = s.scalar(select(Payment))
        assert (row.status, row.stripe_payment_intent_id) == ("pending", None)  # …we do not know

        again = world.billing.place_hold(s, 101, world.id, "PLN", clock(), site_id=world.site_id)
        assert again.status == "authorized"
        assert again.stripe_payment_intent_id == stripe_env.intents(cus)[0]["id"]
    assert len(stripe_env.intents(cus)) == 1  # found by its key, not held twice


def test_a_crash_after_the_capture_is_reconciled_not_repeated(
    client, session, container, world, clock, stripe_env
):
    save_card(client, world.headers, stripe_env)
    p = hold(session, world, clock)
    pi = p.stripe_payment_intent_id
    with (
        commit_fails_once(session, lambda p: p.status == st.CAPTURED),
        pytest.raises(OperationalError),
    ):
        world.billing.settle(session, 101, 13520)
    session.rollback()
    with fresh(container) as s:
        row = s.get(Payment, p.id)
        assert row.status == "capturing"  # Stripe captured; we had not recorded it
        done = world.billing.settle(s, 101, 13520)
        assert (done.captured_minor, done.extra_minor, done.settled) == (HOLD, 3520, True)
        again = world.billing.settle(s, 101, 13520)
        assert again.extra.id == done.extra.id
    charge = stripe_env.admin.v1.payment_intents.retrieve(pi).to_dict()["latest_charge"]
    assert charge["captured"] and charge["amount"] - charge["amount_refunded"] == HOLD
    assert len(stripe_env.intents(customer_of(session, world))) == 2


def test_a_crash_after_the_second_payment_is_reconciled_not_repeated(
    client, session, container, world, clock, stripe_env
):
    save_card(client, world.headers, stripe_env)
    hold(session, world, clock)
    with (
        commit_fails_once(
            session, lambda p: p.kind == "extra" and p.stripe_payment_intent_id is not None
        ),
        pytest.raises(OperationalError),
    ):
        world.billing.settle(session, 101, 12000)
    session.rollback()
    with fresh(container) as s:
        done = world.billing.settle(s, 101, 12000)
        assert (done.captured_minor, done.extra_minor, done.extra.status) == (
            HOLD,
            2000,
            "succeeded",
        )
    extras = [
        pi
        for pi in stripe_env.intents(customer_of(session, world))
        if pi["metadata"].get("wattpass_key") == "wp-101-extra"
    ]
    assert len(extras) == 1
