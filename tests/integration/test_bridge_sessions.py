"""The session services on PostgreSQL, below the websocket: who may charge (Accepted /
Blocked / Expired / Invalid), app idTags, the session-ended outbox when payments fail,
overdue unplugs, and the group-commit batch of many chargers' meter values."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from backend.db.models import BridgeIncident, ChargingSession, MeterSample, SessionOutbox
from backend.db.models.enums import Role
from backend.services.bridge_records import ChargerRef
from backend.services.session_access import APP_PREFIX, app_id_tag, authorize
from backend.services.session_batch import MeterOutcome, MeterReport, record_meter_batch
from backend.services.session_meters import SampleIn, SessionRules
from backend.services.session_stop import StopIn, complete_overdue, stop_session
from backend.services.sessions import StartIn, start_session
from ocpp_bridge.persistence import Database, OutboxRelay
from tests import factories as f
from tests.integration.bridge_harness import FakePort

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
RULES = SessionRules()


@pytest.fixture
def hotel(session) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A private hotel site, a public mall site of another operator, drivers."""
    hotel_op, mall_op = f.operator(session, "Hotel"), f.operator(session, "Mall")
    private = f.site(session, hotel_op, visibility="private")
    public = f.site(session, mall_op, visibility="public")
    guest, stranger, gone = (f.user(session, Role.DRIVER) for _ in range(3))
    member = f.membership(
        session, guest, hotel_op, [private],
        starts_at=NOW - timedelta(days=2), ends_at=NOW - timedelta(hours=1),
    )  # fmt: skip
    gone.is_active = False
    session.commit()
    return {"hotel": hotel_op, "private": private, "public": public, "guest": guest,
            "stranger": stranger, "gone": gone, "member": member}  # fmt: skip


def test_app_tags_are_per_driver_stable_and_fit_ocpp16(session, hotel) -> None:  # type: ignore[no-untyped-def]
    tag = app_id_tag(session, hotel["guest"].id)
    assert tag.startswith(APP_PREFIX) and len(tag) == 20
    assert app_id_tag(session, hotel["guest"].id) == tag
    assert app_id_tag(session, hotel["stranger"].id) != tag


def test_who_may_charge_where(session, hotel) -> None:  # type: ignore[no-untyped-def]
    private, public = hotel["private"].id, hotel["public"].id
    guest = app_id_tag(session, hotel["guest"].id)
    stranger = app_id_tag(session, hotel["stranger"].id)
    gone = app_id_tag(session, hotel["gone"].id)

    # The guest's temporary code ran out an hour ago: Expired at the hotel, fine at the mall.
    assert authorize(session, guest, private, NOW).status == "Expired"
    assert authorize(session, guest, private, NOW - timedelta(hours=2)).status == "Accepted"
    assert authorize(session, guest, public, NOW).status == "Accepted"
    assert authorize(session, stranger, private, NOW).status == "Invalid"
    assert authorize(session, gone, public, NOW).status == "Blocked"
    assert authorize(session, "APP-NOSUCHTAG0000000", public, NOW).status == "Invalid"
    assert authorize(session, "", public, NOW).status == "Invalid"

    # A company RFID card: its own operator's private site at its group; blocked anywhere.
    card = f.rfid_token(session, hotel["hotel"], "CAFE01", driver=hotel["stranger"])
    session.commit()
    at_home = authorize(session, "cafe01", private, NOW)
    assert (at_home.status, at_home.price_group_id) == ("Accepted", card.price_group_id)
    assert at_home.driver_id == hotel["stranger"].id and at_home.rfid_token_id == card.id
    card.blocked_at = NOW - timedelta(minutes=1)
    session.commit()
    assert authorize(session, "CAFE01", public, NOW).status == "Blocked"
    assert authorize(session, "UNKNOWN1", public, NOW).status == "Invalid"


def test_a_membership_prices_the_session_and_names_code_and_membership(session, hotel) -> None:  # type: ignore[no-untyped-def]
    while_valid = NOW - timedelta(hours=2)
    auth = authorize(session, app_id_tag(session, hotel["guest"].id), hotel["private"].id,
                     while_valid)  # fmt: skip
    assert auth.membership_id == hotel["member"].id
    assert auth.price_group_id == hotel["hotel"].company.id


def _charger(cp: Any, site: Any, version: str = "1.6") -> ChargerRef:
    return ChargerRef(cp.id, site.id, cp.ocpp_identity, version)


def test_the_outbox_keeps_a_notice_until_payments_accepts_it(container, session, clock) -> None:  # type: ignore[no-untyped-def]
    setup = f.operator(session)
    site = f.site(session, setup)
    charger = _charger(f.charge_point(session, site), site)
    session.commit()
    started = start_session(session, charger, StartIn(1, "ANY", clock.now.isoformat(), 10),
                            clock.now, RULES)  # fmt: skip
    clock.advance(minutes=30)
    stop = stop_session(
        session, charger,
        StopIn(clock.now.isoformat(), 2_010, "EVDisconnected",
               ocpp_transaction_id=started.ocpp_transaction_id, unplugged=True),
        clock.now, RULES,
    )  # fmt: skip
    assert stop.result == "completed" and stop.ended == [started.session_id]

    port = FakePort()
    port.failures = 2

    async def deliver() -> int:
        db = Database(container.session_factory, 2)
        try:
            return await OutboxRelay(db, port, clock).deliver_due()
        finally:
            db.close()

    assert asyncio.run(deliver()) == 0  # payments down: the notice waits
    row = session.scalars(select(SessionOutbox)).one()
    assert row.attempts == 1 and "payments are down" in row.last_error
    assert asyncio.run(deliver()) == 0  # not due yet: back-off
    clock.advance(seconds=10)
    assert asyncio.run(deliver()) == 0  # down again
    clock.advance(minutes=1)
    assert asyncio.run(deliver()) == 1
    [ended] = port.received
    assert (ended.session_id, ended.energy_wh, ended.unplugged_at) == (
        started.session_id, 2_000, clock.now - timedelta(minutes=1, seconds=10),
    )  # fmt: skip
    assert asyncio.run(deliver()) == 0 and len(port.received) == 1  # delivered once
    session.expire_all()
    assert session.get(SessionOutbox, row.id).delivered_at is not None  # type: ignore[union-attr]
    # The stop itself never depended on the port.
    assert session.get(ChargingSession, started.session_id).status == "completed"  # type: ignore[union-attr]


def test_a_stopped_session_whose_unplug_never_comes_ends_after_the_wait(session, clock) -> None:  # type: ignore[no-untyped-def]
    setup = f.operator(session)
    site = f.site(session, setup)
    charger = _charger(f.charge_point(session, site), site)
    session.commit()
    started = start_session(session, charger, StartIn(1, "ANY", clock.now.isoformat(), 10),
                            clock.now, RULES)  # fmt: skip
    stop_session(session, charger,
                 StopIn(clock.now.isoformat(), 500, "Remote",
                        ocpp_transaction_id=started.ocpp_transaction_id),
                 clock.now, RULES)  # fmt: skip
    assert complete_overdue(session, clock.now + timedelta(hours=1), timedelta(hours=24)) == []
    ended = complete_overdue(session, clock.now + timedelta(hours=25), timedelta(hours=24))
    assert ended == [started.session_id]
    row = session.get(ChargingSession, started.session_id)
    assert row.status == "completed" and row.unplugged_at is None  # type: ignore[union-attr]
    kinds = session.scalars(select(BridgeIncident.kind)).all()
    assert kinds == ["unplug_not_reported"]


def test_one_batch_stores_many_chargers_values_once(session, clock) -> None:  # type: ignore[no-untyped-def]
    setup = f.operator(session)
    site = f.site(session, setup)
    chargers = [_charger(f.charge_point(session, site), site) for _ in range(20)]
    session.commit()
    tx = {
        c.identity: start_session(session, c, StartIn(1, "ANY", clock.now.isoformat(), 1_000),
                                  clock.now, RULES).ocpp_transaction_id
        for c in chargers
    }  # fmt: skip
    clock.advance(minutes=1)

    def report(c: ChargerRef, wh: int, **kw: Any) -> MeterReport:
        sample = SampleIn(clock.now.isoformat(), str(wh))
        return MeterReport(c, 1, (sample,), **kw)

    reports = [report(c, 2_000, ocpp_transaction_id=tx[c.identity]) for c in chargers]
    reports.append(report(chargers[0], 5, ocpp_transaction_id=987_654))  # unknown
    reports.append(report(chargers[1], 2_000))  # no transaction id: the connector's session
    reports.append(reports[2])  # the same values twice in one batch
    outcomes = record_meter_batch(session, reports, clock.now, RULES)
    assert outcomes[:20] == [MeterOutcome.STORED] * 20
    assert outcomes[20:] == [MeterOutcome.UNKNOWN_TRANSACTION, MeterOutcome.STORED,
                             MeterOutcome.STORED]  # fmt: skip
    assert len(session.scalars(select(MeterSample)).all()) == 20
    # And the same batch again (a replay) adds nothing.
    record_meter_batch(session, reports, clock.now, RULES)
    assert len(session.scalars(select(MeterSample)).all()) == 20
    starts = session.scalars(select(ChargingSession.meter_start_wh)).all()
    assert set(starts) == {1_000}
    kinds = session.scalars(select(BridgeIncident.kind)).all()
    assert kinds == ["unknown_transaction_meter"]  # filed once, however often it comes
