"""The connection registry, the handshake's path and subprotocol rules, and the 2.0.1
command mapping — without sockets."""

from __future__ import annotations

import asyncio

import pytest
from websockets.exceptions import NegotiationError

from backend.services.charger_gateway import ChargerOffline, CommandResult, Reset
from ocpp_bridge.registry import ChargerConnection, ConnectionRegistry
from ocpp_bridge.server import identity_from_path, select_subprotocol
from ocpp_bridge.v201_commands import component_variable


class FakeConnection:
    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.ocpp_version = "1.6"
        self.commands: list[object] = []

    async def execute(self, command: object, timeout_s: float) -> CommandResult:
        self.commands.append(command)
        return CommandResult("Accepted")

    async def close(self, reason: str) -> None:
        pass


def test_the_newest_connection_wins_and_the_old_one_is_handed_back() -> None:
    registry = ConnectionRegistry()
    first, second = FakeConnection("CP-1"), FakeConnection("CP-1")
    assert isinstance(first, ChargerConnection)
    assert registry.register("CP-1", first) is None
    assert registry.register("CP-1", second) is first
    assert registry.get("CP-1") is second
    # The replaced connection closing late must not unregister its successor.
    assert registry.unregister("CP-1", first) is False
    assert registry.identities() == ["CP-1"]
    assert registry.unregister("CP-1", second) is True
    assert "CP-1" not in registry and len(registry) == 0


def test_execute_goes_to_the_current_connection_or_raises_offline() -> None:
    registry = ConnectionRegistry()
    conn = FakeConnection("CP-2")
    registry.register("CP-2", conn)
    result = asyncio.run(registry.execute("CP-2", Reset(hard=True), timeout_s=1))
    assert result.accepted and conn.commands == [Reset(hard=True)]
    with pytest.raises(ChargerOffline) as caught:
        asyncio.run(registry.execute("CP-9", Reset()))
    assert caught.value.identity == "CP-9"


@pytest.mark.parametrize(
    ("path", "identity"),
    [
        ("/ocpp/CP-000001", "CP-000001"),
        ("/CP-000001", "CP-000001"),
        ("/ocpp/CP-000001?x=1", "CP-000001"),
        ("/ocpp/CP%2D1", "CP-1"),
        ("/ocpp/", None),
        ("/", None),
        ("/ocpp/a/b", None),
        ("/ocpp/..", None),
        ("/ocpp/bad id", None),
    ],
)
def test_the_identity_is_the_last_path_segment(path: str, identity: str | None) -> None:
    assert identity_from_path(path) == identity


def test_ocpp201_is_preferred_and_anything_else_is_refused_naming_what_we_speak() -> None:
    assert select_subprotocol(None, ["ocpp1.6", "ocpp2.0.1"]) == "ocpp2.0.1"  # type: ignore[arg-type]
    assert select_subprotocol(None, ["ocpp1.6"]) == "ocpp1.6"  # type: ignore[arg-type]
    for offered in ([], ["ocpp1.5", "ocpp2.1"]):
        with pytest.raises(NegotiationError, match=r"speaks ocpp2\.0\.1, ocpp1\.6"):
            select_subprotocol(None, offered)  # type: ignore[arg-type]


def test_16_configuration_keys_map_onto_201_variables() -> None:
    assert component_variable("HeartbeatInterval") == {
        "component": {"name": "OCPPCommCtrlr"},
        "variable": {"name": "HeartbeatInterval"},
    }
    assert component_variable("TxCtrlr/EVConnectionTimeOut")["variable"] == {
        "name": "EVConnectionTimeOut"
    }
    with pytest.raises(ValueError, match="Component/Variable"):
        component_variable("SomethingUnmapped")
