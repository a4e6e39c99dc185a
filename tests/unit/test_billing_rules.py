"""Billing rules with fakes: an in-memory database, the fake payment gateway (a fake of
our own port) and a recording notifier. The PostgreSQL side is tests/integration."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

import backend.db.models  # noqa: F401  (every table on the metadata)
from backend.adapters.fake_payments import FakeGateway
from backend.db import Base, make_engine, make_session_factory
from backend.db.models import ChargingSession
from backend.services import billing_pricing
from backend.services.billing import SessionBilling
from backend.services.billing_periods import next_period
from backend.services.payments import Billing
from backend.services.receipts import Seller
from tests.integration.test_billing_support import (
    card,
    driver,
    ended_session,
    guest_code,
    local,
    place,
    price,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[int, Any]] = []

    def notify(self, s: Session, user_id: int, event: Any, *, now: datetime) -> object:
        self.sent.append((user_id, event))
        return None


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
def notes() -> Recorder:
    return Recorder()


@pytest.fixture
def billing(gw: FakeGateway, notes: Recorder) -> SessionBilling:
    seller = Seller("Wattpass sp. z o.o.", "Warszawa", "PL0000000000")
    return SessionBilling(Billing(gw, {"PLN": Decimal("100.00")}), seller, notes)


def test_next_period_rolls_over_the_year() -> None:
    assert next_period("2026-11") == "2026-12"
    assert next_period("2026-12") == "2027-01"


def test_car_full_after_the_unplug_is_taken_as_the_unplug() -> None:
    row = ChargingSession(
        started_at=datetime(2026, 11, 20, 19, tzinfo=UTC),
        stopped_at=datetime(2026, 11, 20, 20, tzinfo=UTC),
        unplugged_at=datetime(2026, 11, 20, 21, tzinfo=UTC),
        car_full_at=datetime(2026, 11, 20, 22, tzinfo=UTC),
        meter_start_wh=500,
        meter_stop_wh=10,  # a register reset: the bridge's energy stands
        energy_wh=7_000,
    )
    usage = billing_pricing.usage_of(row)
    assert (usage.meter_start_wh, usage.meter_stop_wh) == (500, 7_500)
    assert usage.ended_at == row.unplugged_at and usage.full_at == row.unplugged_at


def test_a_session_is_billed_and_told_once(s, gw, notes, billing) -> None:  # type: ignore[no-untyped-def]
    p = place(s)
    v = price(s, p, model="fixed_with_idle", energy="2.40", idle="0.50", window=("08:00", "22:00"))
    u = driver(s)
    card(s, gw, u)
    row = ended_session(
        s,
        p,
        u,
        start=local(2026, 11, 20, 20, 0),
        full=local(2026, 11, 20, 21, 10),
        end=local(2026, 11, 20, 23, 30),
        wh=18_500,
        version=v,
    )
    first = billing.bill_ended_session(s, row.id, NOW)
    calls = list(gw.calls)
    again = billing.bill_ended_session(s, row.id, NOW)
    assert (first.id, first.status, first.gross_minor) == (again.id, "paid", 6940)
    assert gw.calls == calls
    [(user_id, event)] = notes.sent
    assert (user_id, event.session_id, event.energy_kwh, str(event.amount)) == (
        u.id,
        row.id,
        Decimal("18.500"),
        "69.40 PLN",
    )


def test_the_code_decides_the_billing_mode(s, gw, notes, billing) -> None:  # type: ignore[no-untyped-def]
    p = place(s)
    price(s, p, energy="2.00", group=p.setup.company, billing_mode="per_session")
    guest = driver(s)
    code = guest_code(s, p, guest)
    row = ended_session(
        s,
        p,
        guest,
        start=local(2026, 11, 20, 18, 0),
        end=local(2026, 11, 20, 22, 0),
        wh=30_000,
        code=code,
    )
    charge = billing.bill_ended_session(s, row.id, NOW)
    assert (charge.billing_mode, charge.status, charge.gross_minor) == (
        "operator_invoiced",
        "operator_invoiced",
        6000,
    )
    assert gw.calls == []  # the guest's card is never touched


def test_a_running_session_is_not_billed(s, billing) -> None:  # type: ignore[no-untyped-def]
    from backend.errors import Conflict

    p = place(s)
    price(s, p)
    u = driver(s)
    row = ended_session(
        s,
        p,
        u,
        start=local(2026, 11, 20, 18, 0),
        end=local(2026, 11, 20, 22, 0),
        wh=1_000,
        status="active",
    )
    with pytest.raises(Conflict):
        billing.bill_ended_session(s, row.id, NOW)
