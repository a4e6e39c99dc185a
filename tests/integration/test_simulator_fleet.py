"""Fleet load generation and the demo fleet, against the test central system."""

from __future__ import annotations

import asyncio

from ocpp.exceptions import NotImplementedError as OcppNotImplemented
from ocpp.v16 import call

from ocpp_bridge.simulator import FleetStats, run_demo_fleet, run_fleet
from tests.integration.test_simulator_csms import FakeCentralSystem, run


def test_fleet_of_both_versions_with_their_own_passwords() -> None:
    async def body() -> None:
        async with FakeCentralSystem() as csms:
            pairs = [(f"F-{i}", f"pw-{i}") for i in range(60)]
            csms.passwords.update(pairs)
            stats = FleetStats()
            fleets = [
                run_fleet(csms.url, pairs[:30], version="1.6", stats=stats, duration_s=1.5,
                          meter_interval_s=0.3, heartbeat_interval_s=0.5),
                run_fleet(csms.url, pairs[30:], version="2.0.1", duration_s=1.5,
                          meter_interval_s=0.3, heartbeat_interval_s=0.5),
            ]  # fmt: skip
            runner = asyncio.gather(*fleets)
            await csms.wait_for("MeterValues", count=60)
            refused = None
            try:
                await csms.send("F-0", call.Reset(type="Soft"))
            except OcppNotImplemented as exc:
                refused = exc
            v16_stats, v201_stats = await runner
        assert refused is not None  # fleet chargers answer commands NotImplemented
        assert v16_stats is stats and stats.booted == 30 and stats.call_errors == 0
        assert v201_stats.booted == 30 and v201_stats.peak_connected == 30
        assert stats.connected == 0  # all closed at the end of the duration
        boots = {r.identity: r.payload for r in csms.received if r.action == "BootNotification"}
        assert "charging_station" in boots["F-45"] and "charge_point_model" in boots["F-5"]
        assert stats.mean_latency_ms > 0

    run(body())


def test_fleet_counts_refused_connections() -> None:
    async def body() -> FleetStats:
        async with FakeCentralSystem() as csms:
            csms.passwords["F-1"] = "right"
            return await run_fleet(csms.url, [("F-1", "wrong")], duration_s=0.5)

    stats = run(body())
    assert stats.connect_failures >= 1 and stats.booted == 0


def test_demo_fleet_keeps_chargers_doing_sessions_until_cancelled() -> None:
    async def body() -> None:
        async with FakeCentralSystem() as csms:
            chargers = [("DEMO-1", "pw-1", "1.6"), ("DEMO-2", "pw-2", "2.0.1")]
            csms.passwords.update({"DEMO-1": "pw-1", "DEMO-2": "pw-2"})
            demo = asyncio.create_task(
                run_demo_fleet(csms.url, chargers, speed=6000, id_tags=["DEMO-TAG"], seed=7)
            )
            await csms.wait_for("StopTransaction", timeout=15)
            await csms.wait_for(
                "TransactionEvent", where=lambda p: p["event_type"] == "Ended", timeout=15
            )
            demo.cancel()
            await asyncio.gather(demo, return_exceptions=True)
            await asyncio.sleep(0.05)
            assert csms.chargers == {}  # every connection closed
        assert csms.of("StartTransaction")[0]["id_tag"] == "DEMO-TAG"

    run(body())
