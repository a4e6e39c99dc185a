"""The charger-gateway adapters without a network: the JSON codec the Redis-routed
gateway and the bridge nodes share, and the in-process gateway from a Flask-like thread
onto the bridge's event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from backend.adapters.gateway_redis import (
    decode_command,
    decode_reply,
    encode_command,
    encode_error,
    encode_result,
)
from backend.services import charger_gateway as gw
from ocpp_bridge.gateway_local import LocalChargerGateway
from ocpp_bridge.registry import ConnectionRegistry
from tests.unit.charger_fakes import FakeConnection

COMMANDS = [
    gw.RemoteStart(1, "04A1B2C3"),
    gw.RemoteStop("123"),
    gw.Reset(hard=True),
    gw.UnlockConnector(2),
    gw.ChangeAvailability(0, False),
    gw.GetConfiguration(("HeartbeatInterval", "MeterValueSampleInterval")),
    gw.GetConfiguration(),
    gw.ChangeConfiguration("HeartbeatInterval", "10"),
    gw.TriggerMessage("StatusNotification", 1),
    gw.UpdateFirmware(
        "https://fw.example.com/a-2.0.bin", datetime(2026, 12, 1, 2, tzinfo=UTC), request_id=7
    ),
    gw.GetDiagnostics("ftp://logs.example.com/"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: type(c).__name__)
def test_every_command_survives_the_json_round_trip(command):
    import json

    wire = json.loads(json.dumps(encode_command(command)))
    assert decode_command(wire) == command


def test_an_unknown_command_is_refused():
    with pytest.raises(ValueError):
        decode_command({"type": "Explode", "fields": {}})


def test_replies_carry_the_answer_or_the_same_error():
    result = decode_reply("CP-1", encode_result(gw.CommandResult("Unlocked", {"x": [1]})))
    assert result == gw.CommandResult("Unlocked", {"x": [1]})
    for error in (
        gw.ChargerOffline("CP-1", "gone"),
        gw.ChargerTimeout("CP-1", "slow"),
        gw.CommandRejected("CP-1", "NotSupported"),
        gw.GatewayError("CP-1", "broken"),
    ):
        with pytest.raises(type(error)) as raised:
            decode_reply("CP-1", encode_error(error))
        assert type(raised.value) is type(error)
        assert (raised.value.identity, raised.value.message) == ("CP-1", error.message)


# --- the in-process gateway ------------------------------------------------------------------


@pytest.fixture
def bridge_loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="bridge", daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_local_gateway_runs_the_command_on_the_bridge_loop(bridge_loop):
    registry = ConnectionRegistry()
    conn = FakeConnection("CP-1")
    conn.answer = "Unlocked"
    registry.register("CP-1", conn)
    gateway = LocalChargerGateway(registry, bridge_loop)
    assert gateway.is_connected("CP-1") and not gateway.is_connected("CP-2")
    assert gateway.send("CP-1", gw.UnlockConnector(1), timeout_s=2) == gw.CommandResult(
        "Unlocked", {"echo": "UnlockConnector"}
    )
    assert conn.commands == [gw.UnlockConnector(1)]
    with pytest.raises(gw.ChargerOffline):
        gateway.send("CP-2", gw.Reset())


def test_local_gateway_maps_a_silent_charger_to_timeout(bridge_loop):
    registry = ConnectionRegistry()
    conn = FakeConnection("CP-1")
    conn.delay_s = 5
    registry.register("CP-1", conn)
    with pytest.raises(gw.ChargerTimeout):
        LocalChargerGateway(registry, bridge_loop).send("CP-1", gw.Reset(), timeout_s=0.1)


def test_local_gateway_refuses_to_block_its_own_loop():
    async def on_loop() -> None:
        gateway = LocalChargerGateway(ConnectionRegistry(), asyncio.get_running_loop())
        with pytest.raises(RuntimeError):
            gateway.send("CP-1", gw.Reset())

    asyncio.run(on_loop())


def test_local_gateway_with_a_stopped_bridge_is_offline():
    loop = asyncio.new_event_loop()
    loop.close()
    with pytest.raises(gw.ChargerOffline):
        LocalChargerGateway(ConnectionRegistry(), loop).send("CP-1", gw.Reset())
