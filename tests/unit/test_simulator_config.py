"""The simulator's key store, firmware versioning and simulated clock."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from ocpp_bridge.simulator.clock import SimClock, iso, parse_iso
from ocpp_bridge.simulator.commands import next_version
from ocpp_bridge.simulator.config import ConfigStore


def test_one_value_behind_the_16_key_and_the_201_variable() -> None:
    changed: list[str] = []
    store = ConfigStore(connectors=2, on_change=changed.append)
    setting = store.get("HeartbeatInterval")
    assert setting is store.get_variable("OCPPCommCtrlr", "HeartbeatInterval")
    assert store.change(setting, "60") == "Accepted"
    assert store.get_int("HeartbeatInterval") == 60 and changed == ["HeartbeatInterval"]
    assert store.get_int("NumberOfConnectors") == 2


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("HeartbeatInterval", "soon"),
        ("HeartbeatInterval", "-5"),
        ("NumberOfConnectors", "3"),
        ("AuthorizeRemoteTxRequests", "maybe"),
    ],
)
def test_invalid_or_read_only_changes_are_rejected(key: str, value: str) -> None:
    store = ConfigStore()
    setting = store.get(key)
    before = setting.value
    assert store.change(setting, value) == "Rejected"
    assert setting.value == before


def test_stores_do_not_share_settings() -> None:
    a, b = ConfigStore(), ConfigStore()
    a.change(a.get("HeartbeatInterval"), "10")
    assert b.get_int("HeartbeatInterval") == 300
    assert a.get_bool("LocalAuthorizeOffline") is True
    assert a.knows_component("SampledDataCtrlr") and not a.knows_component("Nope")


@pytest.mark.parametrize(
    ("current", "location", "expected"),
    [
        ("1.0.0", "https://fw.example/wattbox-2.1.0.bin", "2.1.0"),
        ("1.0.0", "https://fw.example/v3.2/image.bin", "1.0.1"),  # only the file name counts
        ("1.0.9", "ftp://fw/latest.bin", "1.0.10"),
        ("beta", "ftp://fw/latest.bin", "beta.1"),
    ],
)
def test_next_firmware_version(current: str, location: str, expected: str) -> None:
    assert next_version(current, location) == expected


def test_timestamps_are_utc_iso_with_z() -> None:
    at = datetime(2026, 3, 2, 8, 0, 1, 234_000, tzinfo=UTC)
    assert iso(at) == "2026-03-02T08:00:01.234Z"
    assert parse_iso("2026-03-02T08:00:01.234Z") == at
    assert parse_iso("not a time") is None and parse_iso(None) is None


def test_simulated_time_runs_faster_by_the_speed_factor() -> None:
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    clock = SimClock(speed=14_400, start=start)

    async def two_hours() -> float:
        began = time.monotonic()
        await clock.sleep(2 * 3600)
        return time.monotonic() - began

    real = asyncio.run(two_hours())
    assert 0.45 <= real < 1.5  # two simulated hours in half a real second
    assert clock.now() - start >= timedelta(hours=2)
    assert clock.real_seconds(60) == pytest.approx(60 / 14_400)
    with pytest.raises(ValueError):
        SimClock(speed=0)
