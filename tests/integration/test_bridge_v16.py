"""OCPP 1.6J journeys over real websockets into PostgreSQL: boot, heartbeat, statuses,
authorize, a whole session with meter values, the idle moments (field failures: _failures)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from ocpp.exceptions import SecurityError
from ocpp.v16 import call as c16
from sqlalchemy import select

from backend.db.models import (
    ChargePoint,
    ChargerBootPolicy,
    Connector,
)
from tests.integration.bridge_harness import eventually, run, running_bridge
from tests.integration.bridge_world import (
    charging_world,
    in_db,
    meter16,
    one_session,
    sample_count,
)


@pytest.fixture
def world(session) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return charging_world(session)


def test_boot_heartbeat_and_statuses_are_recorded_and_announced(container, clock, world) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock, heartbeat_interval_s=7) as h:
            cp = await h.charger(world["identity"])
            boot = await cp.call(
                c16.BootNotification(
                    charge_point_vendor="Acme", charge_point_model="AC22",
                    firmware_version="1.2.3", charge_point_serial_number="SN-9",
                ),
                suppress=False,
            )  # fmt: skip
            assert (boot.status, boot.interval) == ("Accepted", 7)
            assert boot.current_time == "2026-11-20T12:00:00Z"
            beat = await cp.call(c16.Heartbeat(), suppress=False)
            assert beat.current_time == "2026-11-20T12:00:00Z"
            await cp.call(
                c16.StatusNotification(connector_id=1, error_code="NoError", status="Preparing",
                                       timestamp=h.ts()),
                suppress=False,
            )  # fmt: skip
            await cp.call(
                c16.StatusNotification(connector_id=0, error_code="GroundFailure",
                                       status="Faulted"),
                suppress=False,
            )  # fmt: skip
            await cp.call(c16.FirmwareStatusNotification(status="Downloading"), suppress=False)
            await eventually(lambda: len(h.recorder.events) >= 5)
            booted = h.recorder.named("charger_booted")
            assert booted == [(world["identity"], "1.2.3")]
            statuses = [e[0] for e in h.recorder.named("status_changed")]
            assert [(e.connector_id, e.status, e.error_code) for e in statuses] == [
                (1, "Preparing", "NoError"),
                (0, "Faulted", "GroundFailure"),
            ]
            [(firmware,)] = h.recorder.named("firmware_status_changed")
            assert (firmware.status, firmware.request_id) == ("Downloading", None)
            clock.advance(seconds=30)
            await cp.call(c16.Heartbeat(), suppress=False)
            await eventually(
                lambda: (
                    in_db(container, lambda s: s.get(ChargePoint, world["cp"].id).last_seen_at)
                    == clock.now
                )
            )

        stored = in_db(container, lambda s: s.get(ChargePoint, world["cp"].id))
        assert (stored.firmware_version, stored.serial_number, stored.ocpp_version) == (
            "1.2.3", "SN-9", "1.6",
        )  # fmt: skip
        assert stored.status == "offline"  # the bridge closed; the charger is gone
        connector = in_db(
            container,
            lambda s: s.scalars(
                select(Connector).where(
                    Connector.charge_point_id == world["cp"].id, Connector.connector_id == 1
                )
            ).one(),
        )
        assert connector.status == "Preparing"

    run(scenario())


@pytest.mark.parametrize(("commissioned", "rejected", "expected"), [
    (False, False, "Pending"), (True, True, "Rejected"),
])  # fmt: skip
def test_an_uncommissioned_charger_is_pending_and_a_refused_one_rejected(
    container, clock, session, world, commissioned, rejected, expected
) -> None:  # type: ignore[no-untyped-def]
    world["cp"].commissioned = commissioned
    if rejected:
        session.add(ChargerBootPolicy(charge_point_id=world["cp"].id, note="stolen"))
    session.commit()

    async def scenario() -> None:
        async with running_bridge(container, clock, boot_retry_s=120) as h:
            cp = await h.charger(world["identity"])
            boot = await cp.call(
                c16.BootNotification(charge_point_vendor="Acme", charge_point_model="AC22"),
                suppress=False,
            )
            assert (boot.status, boot.interval) == (expected, 120)
            # No transactions until it is accepted; it stays connected meanwhile.
            with pytest.raises(SecurityError):
                await cp.call(c16.Authorize(id_tag="04A1B2C3"), suppress=False)
            await cp.call(c16.Heartbeat(), suppress=False)

    run(scenario())


def test_a_whole_session_meter_values_durable_before_the_answer(container, clock, world) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            cp = await h.charger(world["identity"])
            auth = await cp.call(c16.Authorize(id_tag="04a1b2c3"), suppress=False)
            assert auth.id_tag_info["status"] == "Accepted"
            start = await cp.call(
                c16.StartTransaction(connector_id=1, id_tag="04A1B2C3", meter_start=1_000_000,
                                     timestamp=h.ts()),
                suppress=False,
            )  # fmt: skip
            tx = start.transaction_id
            assert start.id_tag_info["status"] == "Accepted"
            for minute, wh in ((10, 1_003_000), (20, 1_006_500)):
                await cp.call(meter16(h, tx, wh, minute, power_w=7_000), suppress=False)
                # Answered means committed: another connection sees the row already.
                assert sample_count(container) == 2 * (minute // 10)
            clock.advance(minutes=75)
            stop = await cp.call(
                c16.StopTransaction(meter_stop=1_018_500, timestamp=h.ts(), transaction_id=tx,
                                    reason="EVDisconnected", id_tag="04A1B2C3"),
                suppress=False,
            )  # fmt: skip
            assert stop.id_tag_info["status"] == "Accepted"
            await eventually(lambda: len(h.port.received) == 1)
            ended = h.port.received[0]

        s = one_session(container)
        assert s.ocpp_transaction_id == tx and s.status == "completed"
        assert (s.meter_start_wh, s.meter_stop_wh, s.energy_wh) == (1_000_000, 1_018_500, 18_500)
        assert s.driver_id == world["driver"].id and s.rfid_token_id == world["token"].id
        assert s.price_version_id == world["version"].id and s.currency == "PLN"
        assert s.stop_reason == "EVDisconnected" and s.unplugged_at == s.stopped_at
        assert ended.session_id == s.id and ended.energy_wh == 18_500
        assert ended.price_version_id == world["version"].id
        assert ended.started_at == clock.now - timedelta(minutes=75)

    run(scenario())


def test_idle_moments_car_full_and_unplug_after_a_remote_stop(container, clock, world) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            cp = await h.charger(world["identity"])

            async def status(name: str, minutes: float) -> None:
                await cp.call(
                    c16.StatusNotification(connector_id=1, error_code="NoError", status=name,
                                           timestamp=h.ts(minutes=minutes)),
                    suppress=False,
                )  # fmt: skip

            start = await cp.call(
                c16.StartTransaction(connector_id=1, id_tag="04A1B2C3", meter_start=500,
                                     timestamp=h.ts()),
                suppress=False,
            )  # fmt: skip
            clock.advance(hours=4)
            await status("Charging", -239)
            await status("SuspendedEV", -170)  # 70 minutes in: car full
            await cp.call(
                c16.StopTransaction(meter_stop=18_500, timestamp=h.ts(minutes=-60),
                                    transaction_id=start.transaction_id, reason="Remote"),
                suppress=False,
            )  # fmt: skip
            assert one_session(container).status == "stopped"  # the cable is still in
            assert h.port.received == []
            await status("Finishing", -59)
            await status("Available", -10)  # unplugged: now the session ends
            await eventually(lambda: len(h.port.received) == 1)

        s = one_session(container)
        started = clock.now - timedelta(hours=4)
        assert s.status == "completed" and s.energy_wh == 18_000
        assert s.car_full_at == started + timedelta(minutes=70)
        assert s.unplugged_at == started + timedelta(minutes=230)
        assert h.port.received[0].car_full_at == s.car_full_at

    run(scenario())
