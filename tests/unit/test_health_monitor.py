"""The bridge's health monitor with fakes: a real ConnectionRegistry holding fake
connections, an in-memory health store applying the real ladder, and a FakeClock.

Fault → soft reset → still faulted after the settle time → hard reset → back-off →
limit → needs attention; recovery; offline detection; a charger not connected here."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from backend.services import charger_gateway as gw
from backend.services.charger_health import HealthPolicy, Observation
from ocpp_bridge.events import StatusChanged
from ocpp_bridge.health import HealthMonitor
from ocpp_bridge.registry import ConnectionRegistry
from tests.conftest import FakeClock
from tests.unit.charger_fakes import FakeConnection, FakeHealthStore

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POLICY = HealthPolicy(
    settle=timedelta(seconds=60),
    max_resets_per_day=4,
    backoff_base=timedelta(minutes=5),
)


def world(*identities: str):  # type: ignore[no-untyped-def]
    clock = FakeClock(T0)
    registry = ConnectionRegistry()
    conns = {}
    for identity in identities:
        conns[identity] = FakeConnection(identity)
        registry.register(identity, conns[identity])
    store = FakeHealthStore(POLICY)
    monitor = HealthMonitor(registry, store, clock, interval_s=10, debounce_s=0)
    return clock, registry, conns, store, monitor


def status(identity: str, connector: int, word: str, code: str = "NoError") -> StatusChanged:
    return StatusChanged(identity, connector, word, code, T0)


async def report(monitor: HealthMonitor, *events: StatusChanged) -> None:
    for event in events:
        await monitor.status_changed(event)
    await monitor.idle()


def resets(conn: FakeConnection) -> list[bool]:
    return [c.hard for c in conn.commands if isinstance(c, gw.Reset)]


def test_fault_soft_reset_still_faulted_hard_reset_then_recovered():
    async def scenario() -> None:
        clock, _, conns, store, monitor = world("CP-1")
        await report(monitor, status("CP-1", 0, "Available"), status("CP-1", 1, "Available"))
        assert resets(conns["CP-1"]) == [] and store.actions == []

        await report(monitor, status("CP-1", 1, "Faulted", "GroundFailure"))
        assert resets(conns["CP-1"]) == [False]
        assert store.names("CP-1") == ["fault", "soft_reset"]
        assert store.actions[1]["result"] == "Accepted"
        assert store.alerts == [("CP-1", "faulted")]

        # It reboots and is still faulted: nothing until the settle time has passed.
        await monitor.charger_connected("CP-1", "1.6")
        await report(monitor, status("CP-1", 0, "Available"), status("CP-1", 1, "Faulted"))
        clock.advance(seconds=59)
        await monitor.tick()
        assert resets(conns["CP-1"]) == [False]
        clock.advance(seconds=1)
        await monitor.tick()
        assert resets(conns["CP-1"]) == [False, True]
        assert store.names("CP-1")[-1] == "hard_reset"

        # Back after the hard reset, healthy.
        await monitor.charger_connected("CP-1", "1.6")
        await report(monitor, status("CP-1", 0, "Available"), status("CP-1", 1, "Available"))
        assert store.names("CP-1")[-1] == "recovered"
        assert store.alerts[-1] == ("CP-1", "restarted")
        clock.advance(hours=1)
        await monitor.tick()
        assert resets(conns["CP-1"]) == [False, True]  # nothing more

    asyncio.run(scenario())


def test_fault_forever_backs_off_then_stops_at_the_limit():
    async def scenario() -> None:
        clock, _, conns, store, monitor = world("CP-1")
        await report(monitor, status("CP-1", 1, "Faulted", "OverCurrentFailure"))
        for _ in range(6 * 60):  # an hour in 10-second rounds
            clock.advance(seconds=10)
            await monitor.tick()
        # Ladder 1: soft, hard; 5 min back-off; ladder 2: soft, hard = 4 = the limit,
        # so once it fails there is no point in backing off: needs attention at once.
        assert resets(conns["CP-1"]) == [False, True, False, True]
        names = store.names("CP-1")
        assert names == [
            "fault",
            "soft_reset",
            "hard_reset",
            "restart_failed",
            "soft_reset",
            "hard_reset",
            "restart_failed",
            "needs_attention",
        ]
        resets_at = [a["at"] for a in store.actions if a["action"].endswith("_reset")]
        assert resets_at[1] - resets_at[0] == timedelta(seconds=60)
        assert resets_at[2] - resets_at[1] == timedelta(seconds=60 + 300)  # settle + back-off
        assert store.alerts == [("CP-1", "faulted"), ("CP-1", "restart_failed")]
        assert store.ladders["CP-1"].state == "needs_attention"

    asyncio.run(scenario())


def test_recovery_resets_the_backoff_but_the_daily_limit_still_counts():
    async def scenario() -> None:
        clock, _, conns, store, monitor = world("CP-1")
        await report(monitor, status("CP-1", 1, "Faulted"))
        clock.advance(seconds=60)
        await monitor.tick()  # hard reset: 2 resets used
        await report(monitor, status("CP-1", 1, "Available"))
        assert store.ladders["CP-1"].failed_ladders == 0
        clock.advance(minutes=1)
        await report(monitor, status("CP-1", 1, "Faulted"))  # at once: no back-off
        assert resets(conns["CP-1"]) == [False, True, False]
        clock.advance(seconds=60)
        await monitor.tick()
        assert resets(conns["CP-1"]) == [False, True, False, True]
        await report(monitor, status("CP-1", 1, "Available"))
        clock.advance(minutes=1)
        await report(monitor, status("CP-1", 1, "Faulted"))  # 4 used within 24 h
        assert resets(conns["CP-1"]) == [False, True, False, True]
        assert store.names("CP-1")[-1] == "needs_attention"
        # A day after the first resets, a new fault gets its ladder again.
        await report(monitor, status("CP-1", 1, "Available"))
        clock.advance(hours=24)
        await report(monitor, status("CP-1", 1, "Faulted"))
        assert resets(conns["CP-1"])[-1] is False and len(resets(conns["CP-1"])) == 5

    asyncio.run(scenario())


def test_the_charger_itself_faulted_counts_and_reset_errors_are_recorded():
    async def scenario() -> None:
        _, _, conns, store, monitor = world("CP-1")
        conns["CP-1"].error = gw.ChargerTimeout("CP-1", "no answer")
        await report(monitor, status("CP-1", 0, "Faulted", "InternalError"))
        assert store.actions[0]["reason"] == "The charger reported Faulted (InternalError)"
        assert store.actions[1]["result"].startswith("charger_timeout")

    asyncio.run(scenario())


def test_a_charger_not_connected_here_is_left_to_whoever_holds_it():
    async def scenario() -> None:
        _, registry, conns, store, monitor = world("CP-1")
        registry.unregister("CP-1", conns["CP-1"])
        await report(monitor, status("CP-1", 1, "Faulted"))
        await monitor.tick()
        assert store.actions == [] and conns["CP-1"].commands == []

    asyncio.run(scenario())


def test_observation_names_the_first_faulted_connector_and_is_unknown_after_connect():
    async def scenario() -> None:
        _, _, _, _, monitor = world("CP-1")
        assert monitor.observation("CP-1") == Observation(None)
        await report(
            monitor, status("CP-1", 2, "Faulted", "NoError"), status("CP-1", 1, "Charging")
        )
        assert monitor.observation("CP-1") == Observation(True, "", "Connector 2")
        await monitor.charger_connected("CP-1", "2.0.1")
        assert monitor.observation("CP-1") == Observation(None)

    asyncio.run(scenario())


def test_a_burst_of_statuses_is_judged_as_a_whole():
    """After a reboot a charger reports connector 0 first: judging then would call it
    recovered before connector 1 says it is still faulted."""

    async def scenario() -> None:
        clock = FakeClock(T0)
        registry = ConnectionRegistry()
        conn = FakeConnection("CP-1")
        registry.register("CP-1", conn)
        store = FakeHealthStore(POLICY)
        monitor = HealthMonitor(registry, store, clock, interval_s=10, debounce_s=0.05)
        await report(monitor, status("CP-1", 1, "Faulted"))
        await monitor.charger_connected("CP-1", "1.6")
        await monitor.status_changed(status("CP-1", 0, "Available"))
        await monitor.status_changed(status("CP-1", 1, "Faulted"))
        await monitor.idle()
        assert "recovered" not in store.names("CP-1")
        assert store.names("CP-1") == ["fault", "soft_reset"]

    asyncio.run(scenario())


def test_silent_for_three_intervals_is_offline_and_heard_again_is_online():
    async def scenario() -> None:
        clock, _, _, store, monitor = world("CP-1", "CP-2")
        store.last_seen = {"CP-1": T0, "CP-2": T0}
        clock.advance(seconds=30)
        await monitor.tick()
        assert store.offline == set()  # exactly three intervals: not yet
        store.last_seen["CP-2"] = clock.now
        clock.advance(seconds=1)
        await monitor.tick()
        assert store.offline == {"CP-1"}
        assert store.sweeps[-1] == (clock.now, 10)
        store.last_seen["CP-1"] = clock.now
        await monitor.tick()
        assert store.offline == set()
        assert store.names("CP-1") == ["offline", "online"]

    asyncio.run(scenario())


def test_a_periodic_task_runs_ticks_until_closed():
    async def scenario() -> None:
        clock = FakeClock(T0)
        store = FakeHealthStore(POLICY)
        monitor = HealthMonitor(ConnectionRegistry(), store, clock, interval_s=0.01)
        monitor.start()
        await asyncio.sleep(0.1)
        await monitor.close()
        assert len(store.sweeps) >= 3
        count = len(store.sweeps)
        await asyncio.sleep(0.05)
        assert len(store.sweeps) == count

    asyncio.run(scenario())
