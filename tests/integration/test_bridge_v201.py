"""OCPP 2.0.1 journeys over real websockets into PostgreSQL: boot, statuses, authorize,
TransactionEvent Started / Updated / Ended with seqNo, and the field failures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from ocpp.exceptions import SecurityError
from ocpp.v201 import call as c201
from sqlalchemy import func, select

from backend.db.models import BridgeIncident, ChargePoint, ChargingSession, Connector, MeterSample
from backend.db.models.enums import Role
from tests import factories as f
from tests.integration.bridge_harness import eventually, run, running_bridge


@pytest.fixture
def world(session) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    setup = f.operator(session)
    site = f.site(session, setup)
    cp = f.charge_point(session, site, power_w=22_000)
    f.charger_password(session, cp)
    driver = f.user(session, Role.DRIVER)
    token = f.rfid_token(session, setup, "04A1B2C3", driver=driver)
    version = f.price_version(session, site, setup.company)
    session.commit()
    return {"cp": cp, "identity": cp.ocpp_identity, "token": token, "version": version,
            "driver": driver}  # fmt: skip


def _db(container, fn):  # type: ignore[no-untyped-def]
    with container.session_factory() as s:
        return fn(s)


def _sessions(container) -> list[ChargingSession]:  # type: ignore[no-untyped-def]
    return _db(container, lambda s: s.scalars(select(ChargingSession)).all())


def _samples(container) -> int:  # type: ignore[no-untyped-def]
    return _db(container, lambda s: s.scalar(select(func.count()).select_from(MeterSample)))


def _incidents(container) -> list[str]:  # type: ignore[no-untyped-def]
    return _db(container, lambda s: s.scalars(select(BridgeIncident.kind)).all())


def event(
    h: Any,
    kind: str,
    seq: int,
    *,
    tx: str = "tx-1",
    minutes: float = 0,
    wh: float | None = None,
    power: float | None = None,
    unit: str = "Wh",
    state: str | None = None,
    trigger: str = "MeterValuePeriodic",
    id_tag: str | None = None,
    evse: int | None = None,
    stopped: str | None = None,
    timestamp: str | None = None,
) -> c201.TransactionEvent:
    info: dict[str, Any] = {"transaction_id": tx}
    if state:
        info["charging_state"] = state
    if stopped:
        info["stopped_reason"] = stopped
    values = []
    if wh is not None:
        values.append({"value": wh, "measurand": "Energy.Active.Import.Register",
                       "unit_of_measure": {"unit": unit}})  # fmt: skip
    if power is not None:
        values.append({"value": power, "measurand": "Power.Active.Import",
                       "unit_of_measure": {"unit": "W"}})  # fmt: skip
    at = timestamp or h.ts(minutes=minutes)
    return c201.TransactionEvent(
        event_type=kind,
        timestamp=at,
        trigger_reason=trigger,
        seq_no=seq,
        transaction_info=info,
        meter_value=[{"timestamp": at, "sampled_value": values}] if values else None,
        evse={"id": evse} if evse else None,
        id_token={"id_token": id_tag, "type": "ISO14443"} if id_tag else None,
    )


def test_boot_statuses_and_firmware_in_201_words(container, clock, world) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock, heartbeat_interval_s=9) as h:
            cp = await h.charger(world["identity"], "2.0.1")
            boot = await cp.call(
                c201.BootNotification(
                    charging_station={"model": "AC22", "vendor_name": "Acme",
                                      "firmware_version": "2.0.0"},
                    reason="PowerUp",
                ),
                suppress=False,
            )  # fmt: skip
            assert (boot.status, boot.interval) == ("Accepted", 9)
            await cp.call(
                c201.StatusNotification(timestamp=h.ts(), connector_status="Occupied",
                                        evse_id=1, connector_id=1),
                suppress=False,
            )  # fmt: skip
            await cp.call(
                c201.FirmwareStatusNotification(status="Installed", request_id=7), suppress=False
            )
            await eventually(lambda: len(h.recorder.events) >= 4)
            assert h.recorder.named("charger_booted") == [(world["identity"], "2.0.0")]
            [(status,)] = h.recorder.named("status_changed")
            assert (status.connector_id, status.status) == (1, "Preparing")
            [(firmware,)] = h.recorder.named("firmware_status_changed")
            assert (firmware.status, firmware.request_id) == ("Installed", 7)

        stored = _db(container, lambda s: s.get(ChargePoint, world["cp"].id))
        assert (stored.firmware_version, stored.ocpp_version, stored.vendor) == (
            "2.0.0", "2.0.1", "Acme",
        )  # fmt: skip
        connector = _db(
            container,
            lambda s: s.scalars(
                select(Connector).where(
                    Connector.charge_point_id == world["cp"].id, Connector.connector_id == 1
                )
            ).one(),
        )
        assert connector.status == "Preparing"

    run(scenario())


def test_a_pending_station_may_not_start_transactions(container, clock, session, world) -> None:  # type: ignore[no-untyped-def]
    world["cp"].commissioned = False
    session.commit()

    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            cp = await h.charger(world["identity"], "2.0.1")
            boot = await cp.call(
                c201.BootNotification(
                    charging_station={"model": "AC22", "vendor_name": "Acme"}, reason="PowerUp"
                ),
                suppress=False,
            )
            assert boot.status == "Pending"
            with pytest.raises(SecurityError):
                await cp.call(event(h, "Started", 0, evse=1), suppress=False)

    run(scenario())


def test_a_whole_transaction_started_updated_ended(container, clock, world) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            cp = await h.charger(world["identity"], "2.0.1")
            auth = await cp.call(
                c201.Authorize(id_token={"id_token": "04a1b2c3", "type": "ISO14443"}),
                suppress=False,
            )
            assert auth.id_token_info["status"] == "Accepted"
            started = await cp.call(
                event(h, "Started", 0, wh=1_000_000, id_tag="04A1B2C3", evse=1,
                      state="Charging", trigger="Authorized"),
                suppress=False,
            )  # fmt: skip
            assert started.id_token_info["status"] == "Accepted"
            clock.advance(minutes=35)
            await cp.call(event(h, "Updated", 1, wh=1_010_000, power=7_400), suppress=False)
            assert _samples(container) == 3  # committed before the answer
            clock.advance(minutes=35)
            # kWh with decimals from a float on the wire: exact Wh in the database.
            await cp.call(event(h, "Updated", 2, wh=1018.5, unit="kWh", power=40.5), suppress=False)
            await cp.call(
                event(h, "Updated", 3, state="SuspendedEV", trigger="ChargingStateChanged"),
                suppress=False,
            )
            clock.advance(minutes=60)
            await cp.call(
                event(h, "Ended", 4, wh=1_018_500, trigger="EVDeparted", stopped="EVDisconnected"),
                suppress=False,
            )
            await eventually(lambda: len(h.port.received) == 1)

        [s] = _sessions(container)
        started_at = clock.now - timedelta(minutes=130)
        assert s.charger_transaction_id == "tx-1" and s.ocpp_transaction_id is None
        assert (s.started_at, s.status, s.last_seq_no) == (started_at, "completed", 4)
        assert (s.meter_start_wh, s.meter_start_source) == (1_000_000, "first_sample")
        assert (s.meter_stop_wh, s.energy_wh) == (1_018_500, 18_500)
        assert s.car_full_at == started_at + timedelta(minutes=70)
        assert s.unplugged_at == clock.now and s.stop_reason == "EVDisconnected"
        assert s.driver_id == world["driver"].id and s.price_version_id == world["version"].id
        assert h.port.received[0].energy_wh == 18_500

    run(scenario())


def test_replays_duplicates_and_unknown_transactions(container, clock, world) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            cp = await h.charger(world["identity"], "2.0.1")
            begin = event(h, "Started", 0, wh=500, id_tag="04A1B2C3", evse=1)
            await cp.call(begin, suppress=False)
            clock.advance(minutes=10)
            update = event(h, "Updated", 1, wh=1_500)
            await cp.call(update, suppress=False)
            await h.sockets[-1].close()  # reboot; everything comes again
            cp = await h.charger(world["identity"], "2.0.1")
            await cp.call(begin, suppress=False)
            await cp.call(update, suppress=False)
            clock.advance(minutes=10)
            end = event(h, "Ended", 2, wh=2_500, trigger="EVDeparted", stopped="EVDisconnected")
            await cp.call(end, suppress=False)
            await cp.call(end, suppress=False)
            await cp.call(event(h, "Ended", 0, tx="never-seen", wh=9), suppress=False)

        [s] = _sessions(container)
        assert s.energy_wh == 2_000 and _samples(container) == 3
        assert _incidents(container) == ["unknown_transaction_stop"]

    run(scenario())


def test_a_lost_started_and_an_idtoken_after_plugin(container, clock, world) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            cp = await h.charger(world["identity"], "2.0.1")
            # tx-A: its Started never arrived; the first we hear is an Updated.
            await cp.call(event(h, "Updated", 3, tx="tx-A", wh=7_000), suppress=False)
            # tx-B: starts at plug-in, the card is presented afterwards.
            await cp.call(
                event(h, "Started", 0, tx="tx-B", evse=2, trigger="CablePluggedIn"),
                suppress=False,
            )
            answer = await cp.call(
                event(h, "Updated", 1, tx="tx-B", id_tag="04A1B2C3", trigger="Authorized"),
                suppress=False,
            )
            assert answer.id_token_info["status"] == "Accepted"

        by_tx = {s.charger_transaction_id: s for s in _sessions(container)}
        assert by_tx["tx-A"].status == "active" and by_tx["tx-A"].meter_start_wh == 7_000
        assert by_tx["tx-B"].driver_id == world["driver"].id
        assert by_tx["tx-B"].price_version_id == world["version"].id
        assert _incidents(container) == ["started_implicitly"]

    run(scenario())


def test_a_remote_stop_waits_for_the_unplug_and_a_1970_clock_is_overridden(
    container, clock, world
) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            cp = await h.charger(world["identity"], "2.0.1")
            await cp.call(event(h, "Started", 0, wh=100, id_tag="04A1B2C3", evse=1),
                          suppress=False)  # fmt: skip
            clock.advance(minutes=20)
            await cp.call(event(h, "Updated", 1, wh=900, timestamp="1970-01-01T00:01:00Z"),
                          suppress=False)  # fmt: skip
            clock.advance(minutes=20)
            await cp.call(event(h, "Ended", 2, wh=1_100, trigger="RemoteStop", stopped="Remote"),
                          suppress=False)  # fmt: skip
            assert [s.status for s in _sessions(container)] == ["stopped"]
            clock.advance(minutes=15)
            await cp.call(
                c201.StatusNotification(timestamp=h.ts(), connector_status="Available",
                                        evse_id=1, connector_id=1),
                suppress=False,
            )  # fmt: skip
            await eventually(lambda: len(h.port.received) == 1)

        [s] = _sessions(container)
        assert s.status == "completed" and s.energy_wh == 1_000
        assert s.unplugged_at == clock.now
        assert _incidents(container) == ["clock_corrected"]

    run(scenario())


def test_a_register_reset_and_a_clock_from_the_future_in_201(container, clock, world) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            cp = await h.charger(world["identity"], "2.0.1")
            await cp.call(event(h, "Started", 0, wh=50_000, id_tag="04A1B2C3", evse=1),
                          suppress=False)  # fmt: skip
            for seq, wh in ((1, 60_000), (2, 1_000)):  # the meter resets after 60,000
                clock.advance(minutes=10)
                await cp.call(event(h, "Updated", seq, wh=wh), suppress=False)
            clock.advance(minutes=10)
            future = (clock.now + timedelta(days=1)).isoformat().replace("+00:00", "Z")
            await cp.call(event(h, "Updated", 3, wh=3_000, timestamp=future), suppress=False)
            clock.advance(minutes=10)
            await cp.call(
                event(h, "Ended", 4, wh=3_500, trigger="EVDeparted", stopped="EVDisconnected"),
                suppress=False,
            )

        [s] = _sessions(container)
        assert s.energy_wh == 10_000 + 1_000 + 2_000 + 500
        late = _db(
            container,
            lambda s: s.scalars(select(MeterSample).where(MeterSample.seq_no == 3)).one(),
        )
        assert late.timestamp == clock.now - timedelta(minutes=10)  # when it arrived
        assert _incidents(container) == ["clock_corrected"]

    run(scenario())
