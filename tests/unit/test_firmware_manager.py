"""The bridge's firmware manager with fakes: UpdateFirmware sent when due to connected
chargers only, one job per charger at a time, the charger's answers and notifications
followed, retries, boots, stalls."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from backend.services import charger_gateway as gw
from backend.services import firmware_jobs as fj
from backend.services.firmware_jobs import FirmwareRules
from ocpp_bridge.events import FirmwareStatusChanged
from ocpp_bridge.firmware import FirmwareManager
from ocpp_bridge.registry import ConnectionRegistry
from tests.conftest import FakeClock
from tests.unit.charger_fakes import FakeConnection, FakeFirmwareStore

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
RULES = FirmwareRules(retry_delay=timedelta(minutes=5), progress_timeout=timedelta(minutes=30))


def world(*identities: str):  # type: ignore[no-untyped-def]
    clock = FakeClock(T0)
    registry = ConnectionRegistry()
    conns = {i: FakeConnection(i) for i in identities}
    for identity, conn in conns.items():
        registry.register(identity, conn)
    store = FakeFirmwareStore(RULES)
    return clock, registry, conns, store, FirmwareManager(registry, store, clock)


def updates(conn: FakeConnection) -> list[gw.UpdateFirmware]:
    return [c for c in conn.commands if isinstance(c, gw.UpdateFirmware)]


def fw(identity: str, status: str, request_id: int | None = None) -> FirmwareStatusChanged:
    return FirmwareStatusChanged(identity, status, request_id, T0)


def test_sent_when_due_to_connected_chargers_and_followed_to_installed():
    async def scenario() -> None:
        clock, registry, conns, store, manager = world("CP-1", "CP-2")
        store.add(1, "CP-1", "2.0.0", T0 + timedelta(hours=1))
        store.add(2, "CP-OFF", "2.0.0", T0)
        await manager.tick()
        assert conns["CP-1"].commands == []  # not due yet
        clock.advance(hours=1)
        await manager.tick()
        (sent,) = updates(conns["CP-1"])
        assert (sent.location, sent.retrieve_at, sent.request_id) == (
            "https://fw.example.com/fw-2.0.0.bin",
            clock.now,
            1,
        )
        assert store.job(1).status == fj.SENT
        assert store.job(2).status == fj.PENDING  # offline: waits for it to connect
        await manager.tick()
        assert len(updates(conns["CP-1"])) == 1  # not sent twice

        for word in ("Downloading", "Downloaded", "Installing", "Installed"):
            await manager.firmware_status_changed(fw("CP-1", word))
        assert store.job(1).status == fj.INSTALLED
        await manager.charger_booted("CP-1", "2.0.0")
        assert store.job(1).installed_version == "2.0.0"

        # The offline one connects and boots: it gets its update right away.
        conns["CP-OFF"] = FakeConnection("CP-OFF", "2.0.1")
        registry.register("CP-OFF", conns["CP-OFF"])
        await manager.charger_booted("CP-OFF", "1.0.0")
        await manager.idle()
        assert [u.request_id for u in updates(conns["CP-OFF"])] == [2]

    asyncio.run(scenario())


def test_a_refusal_or_a_failure_is_retried_within_the_limit_then_failed():
    async def scenario() -> None:
        clock, _, conns, store, manager = world("CP-1")
        store.add(1, "CP-1", "2.0.0", T0, max_attempts=2)
        conns["CP-1"].answer = "Rejected"
        await manager.tick()
        assert store.job(1).status == fj.PENDING
        assert store.job(1).last_error == "UpdateFirmware answered Rejected"
        await manager.tick()
        assert len(updates(conns["CP-1"])) == 1  # waits for the retry delay
        clock.advance(minutes=5)
        conns["CP-1"].answer = "Accepted"
        await manager.tick()
        assert store.job(1).attempts == 2
        await manager.firmware_status_changed(fw("CP-1", "DownloadFailed"))
        assert (store.job(1).status, store.job(1).last_error) == (
            fj.FAILED,
            "The charger reported DownloadFailed",
        )

    asyncio.run(scenario())


def test_offline_or_timeout_at_sending_counts_as_a_failed_attempt():
    async def scenario() -> None:
        _, _, conns, store, manager = world("CP-1")
        store.add(1, "CP-1", "2.0.0", T0, max_attempts=1)
        conns["CP-1"].error = gw.ChargerOffline("CP-1", "Charger CP-1 disconnected.")
        await manager.tick()
        assert (store.job(1).status, store.job(1).last_error) == (
            fj.FAILED,
            "Charger CP-1 disconnected.",
        )

    asyncio.run(scenario())


def test_one_update_at_a_time_per_charger():
    async def scenario() -> None:
        _, _, conns, store, manager = world("CP-1")
        store.add(1, "CP-1", "2.0.0", T0)
        store.add(2, "CP-1", "2.1.0", T0)
        await manager.tick()
        assert [u.request_id for u in updates(conns["CP-1"])] == [1]
        await manager.firmware_status_changed(fw("CP-1", "Installed"))
        await manager.tick()
        assert [u.request_id for u in updates(conns["CP-1"])] == [1, 2]

    asyncio.run(scenario())


def test_2_0_1_request_ids_pick_the_job_and_unknown_ones_are_ignored():
    async def scenario() -> None:
        _, _, _, store, manager = world("CP-1")
        store.add(7, "CP-1", "2.0.0", T0)
        await manager.tick()
        await manager.firmware_status_changed(fw("CP-1", "Downloading", request_id=99))
        assert store.job(7).status == fj.SENT
        await manager.firmware_status_changed(fw("CP-1", "Downloading", request_id=7))
        assert store.job(7).status == fj.DOWNLOADING

    asyncio.run(scenario())


def test_a_stalled_update_fails_at_the_next_tick():
    async def scenario() -> None:
        clock, _, _, store, manager = world("CP-1")
        store.add(1, "CP-1", "2.0.0", T0, max_attempts=1)
        await manager.tick()
        clock.advance(minutes=31)
        await manager.tick()
        assert store.job(1).status == fj.FAILED

    asyncio.run(scenario())
