"""Pushes that billing and the session follow-up send (real PostgreSQL, card payments on
the in-memory fake): charging complete with the idle-fee countdown, started / complete
for sessions not started in the app (RFID), a failed payment and a payment awaiting
3-D Secure — each in the driver's inbox exactly once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from backend.adapters.fake_payments import DECLINE_WHEN_CHARGED, NEEDS_3DS
from backend.db.models import ChargingSession, Notification, Payment
from backend.services import notification_events as ev
from backend.services import notification_texts as texts
from backend.services.session_follow_up import follow_up, idle_fee_in_minutes
from shared.money import Money
from tests.integration.test_billing_support import (
    card,
    driver,
    ended_session,
    fake_payments,
    local,
    place,
    price,
)
from tests.integration.test_session_api import (  # noqa: F401 (the fixture)
    charger_opens_session,
    start,
    world,
)


@pytest.fixture
def gw(container):  # type: ignore[no-untyped-def]
    return fake_payments(container)


@pytest.fixture
def billing(container, gw):  # type: ignore[no-untyped-def]
    return container.session_billing


def inbox(session, user_id: int, kind: str | None = None) -> list[Notification]:  # type: ignore[no-untyped-def]
    session.expire_all()
    q = select(Notification).where(Notification.user_id == user_id)
    if kind is not None:
        q = q.where(Notification.kind == kind)
    return list(session.scalars(q.order_by(Notification.id)))


def assert_text(note: Notification, event: ev.NotificationEvent) -> None:
    shown = texts.render(event, note.language)
    assert (note.kind, note.title, note.body) == (event.kind, shown.title, shown.body)
    assert note.data == event.data()


def sweep(container, clock) -> None:  # type: ignore[no-untyped-def]
    with container.session_factory() as s:
        follow_up(s, container.billing, container.notifications, clock.now)


# --- charging complete, with the idle fee ---------------------------------------------------


def test_charging_complete_says_when_the_idle_fee_starts(
    client,
    world,  # noqa: F811 (the fixture)
    session,
    container,
    clock,
):
    body = start(client, world).json
    outcome, _ = charger_opens_session(container, world, body, clock)
    sweep(container, clock)
    row = session.get(ChargingSession, outcome.session_id)
    # Full at 07:40:30 in Sopot; the fee (08:00–22:00, no grace) starts at 08:00.
    row.car_full_at = local(2026, 11, 21, 7, 40, 30)
    session.commit()
    sweep(container, clock)
    sweep(container, clock)
    [note] = inbox(session, world["driver"].id, "charging_complete")
    site = world["place"].site.name
    assert_text(note, ev.ChargingComplete(outcome.session_id, site, 20))
    assert note.data["idle_fee_in_minutes"] == "20"
    kinds = [n.kind for n in inbox(session, world["driver"].id)]
    assert kinds == ["session_started", "charging_complete"]


def test_idle_fee_minutes_grace_window_and_none(session, clock):
    p = place(session)
    u = driver(session)
    hotel = price(session, p, model="fixed_with_idle", idle="0.50", window=("08:00", "22:00"),
                  grace=15)  # fmt: skip
    row = ended_session(session, p, u, start=local(2026, 11, 20, 18, 0),
                        end=local(2026, 11, 20, 23, 0), full=local(2026, 11, 20, 20, 0),
                        wh=10_000, version=hotel)  # fmt: skip
    assert idle_fee_in_minutes(session, row) == 15  # the grace period, inside the window
    row.car_full_at = local(2026, 11, 20, 21, 50)  # grace ends after the window closed
    assert idle_fee_in_minutes(session, row) == 10 * 60 + 10  # 22:05 → 08:00 next day
    fixed = price(session, p, energy="2.40", revision=2)
    row.price_version_id = fixed.id
    assert idle_fee_in_minutes(session, row) is None
    session.rollback()


# --- sessions not started in the app (an RFID card of a company driver) --------------------


def test_an_rfid_session_gets_started_then_complete_then_ended_each_once(
    session, container, gw, clock
):
    p = place(session)
    v = price(session, p, energy="2.40")
    u = driver(session)
    card(session, gw, u)
    row = ended_session(session, p, u, start=local(2026, 11, 20, 18, 0),
                        end=local(2026, 11, 20, 19, 0), wh=10_000, version=v,
                        status="active")  # fmt: skip
    row.id_tag, row.stopped_at, row.unplugged_at = "04A1B2C3D4", None, None
    session.commit()
    sweep(container, clock)
    sweep(container, clock)
    [started] = inbox(session, u.id)
    assert_text(started, ev.SessionStarted(row.id, p.site.name))

    row = session.get(ChargingSession, row.id)
    row.car_full_at = local(2026, 11, 20, 18, 50)
    session.commit()
    sweep(container, clock)
    sweep(container, clock)
    [_, full] = inbox(session, u.id)
    assert_text(full, ev.ChargingComplete(row.id, p.site.name, None))

    from backend.services import session_outbox

    row = session.get(ChargingSession, row.id)
    row.status, row.stopped_at, row.unplugged_at = (
        "completed", local(2026, 11, 20, 19, 0), local(2026, 11, 20, 19, 0),
    )  # fmt: skip
    session.commit()
    container.session_ended.session_ended(session_outbox.event_of(session, row))
    container.session_ended.session_ended(session_outbox.event_of(session, row))
    sweep(container, clock)
    kinds = [n.kind for n in inbox(session, u.id)]
    assert kinds == ["session_started", "charging_complete", "session_ended"]


def test_a_session_ending_before_any_sweep_still_tells_in_order(session, container, gw, clock):
    from backend.services import session_outbox

    p = place(session)
    v = price(session, p, energy="2.40")
    u = driver(session)
    card(session, gw, u)
    row = ended_session(session, p, u, start=local(2026, 11, 20, 18, 0),
                        end=local(2026, 11, 20, 19, 0), full=local(2026, 11, 20, 18, 40),
                        wh=10_000, version=v)  # fmt: skip
    row.id_tag = "04A1B2C3D4"
    session.commit()
    container.session_ended.session_ended(session_outbox.event_of(session, row))
    kinds = [n.kind for n in inbox(session, u.id)]
    assert kinds == ["session_started", "charging_complete", "session_ended"]


# --- payments: declined, 3-D Secure ------------------------------------------------------------


def test_a_declined_session_payment_is_told_once(session, billing, gw, clock):
    p = place(session)
    v = price(session, p, energy="2.40")
    u = driver(session)
    card(session, gw, u, number=next(iter(DECLINE_WHEN_CHARGED)))
    row = ended_session(session, p, u, start=local(2026, 11, 20, 18, 0),
                        end=local(2026, 11, 20, 19, 0), wh=5_000, version=v)  # fmt: skip
    charge = billing.bill_ended_session(session, row.id, clock())
    assert charge.status == "payment_failed"
    billing.bill_ended_session(session, row.id, clock())
    billing.bill_pending(session, clock())
    [note] = inbox(session, u.id, "payment_failed")
    hold = session.scalar(select(Payment).where(Payment.session_ref == row.id))
    assert_text(note, ev.PaymentFailed(Money(hold.amount_minor, "PLN"), row.id, hold.id))
    assert [n.kind for n in inbox(session, u.id)] == ["session_ended", "payment_failed"]


def test_a_session_payment_awaiting_3d_secure_names_the_payment_once(session, billing, gw, clock):
    p = place(session)
    v = price(session, p, energy="2.40")
    u = driver(session)
    card(session, gw, u, number=next(iter(NEEDS_3DS)))
    row = ended_session(session, p, u, start=local(2026, 11, 20, 18, 0),
                        end=local(2026, 11, 20, 19, 0), wh=5_000, version=v)  # fmt: skip
    assert billing.bill_ended_session(session, row.id, clock()).status == "payment_pending"
    [note] = inbox(session, u.id, "authentication_needed")
    hold = session.scalar(select(Payment).where(Payment.session_ref == row.id))
    assert hold.status == "requires_authentication"
    assert_text(note, ev.AuthenticationNeeded(Money(hold.amount_minor, "PLN"), hold.id, row.id))
    assert note.data["payment_id"] == str(hold.id)
    assert hold.amount_minor == 1200  # what the session cost: the one payment to confirm
    # The sweeps wait for the driver: the hold is neither voided nor followed by a second
    # payment to confirm, and nobody is asked again.
    billing.bill_ended_session(session, row.id, clock())
    billing.bill_pending(session, clock())
    billing.bill_pending(session, clock())
    assert [p.kind for p in session.scalars(select(Payment))] == ["hold"]
    gw.authenticate(hold.stripe_payment_intent_id)  # confirmed in the app
    billing.bill_pending(session, clock())
    session.expire_all()
    assert session.get(Payment, hold.id).status == "captured"
    assert [n.kind for n in inbox(session, u.id)] == ["session_ended", "authentication_needed"]


@pytest.mark.parametrize(
    ("number", "kind", "status"),
    [
        (next(iter(DECLINE_WHEN_CHARGED)), "payment_failed", "failed"),
        (next(iter(NEEDS_3DS)), "authentication_needed", "requires_authentication"),
    ],
)
def test_a_monthly_charge_that_does_not_go_through_is_told_once(
    session, billing, gw, clock, number, kind, status
):
    block = place(session, name="Osiedle Zielone")
    price(session, block, energy="1.50", billing_mode="monthly")
    u = driver(session)
    card(session, gw, u, number=number)
    row = ended_session(session, block, u, start=local(2026, 11, 3, 18, 0),
                        end=local(2026, 11, 3, 22, 0), wh=40_000)  # fmt: skip
    billing.bill_ended_session(session, row.id, clock())
    for _ in range(2):
        assert billing.close_month(session, u.id, block.site.id, "2026-11", clock()) is None
    monthly = session.scalar(select(Payment).where(Payment.kind == "monthly"))
    assert monthly.status == status
    [note] = inbox(session, u.id, kind)
    amount = Money(6000, "PLN")
    event = (
        ev.PaymentFailed(amount, None, monthly.id)
        if kind == "payment_failed"
        else ev.AuthenticationNeeded(amount, monthly.id)
    )
    assert_text(note, event)
    assert Decimal(monthly.amount_minor) == 6000
