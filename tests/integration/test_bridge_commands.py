"""Charger-gateway commands through ConnectionRegistry.execute to chargers of both OCPP
versions over real websockets: what the charger receives, what the caller gets back,
and the three errors (offline, timeout, CALLERROR)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from ocpp.exceptions import NotSupportedError

from backend.services import charger_gateway as gw
from tests import factories as f
from tests.integration.bridge_harness import eventually, run, running_bridge

WHEN = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


@pytest.fixture
def identity(session) -> str:  # type: ignore[no-untyped-def]
    cp = f.charge_point(session, f.site(session, f.operator(session)))
    f.charger_password(session, cp)
    session.commit()
    return cp.ocpp_identity


def _last(cp: Any) -> tuple[str, dict[str, Any]]:
    return cp.received[-1]  # type: ignore[no-any-return]


def test_every_command_reaches_a_16_charger_as_its_16_call(container, clock, identity) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            cp = await h.charger(identity, "1.6")

            async def send(command: gw.Command) -> gw.CommandResult:
                return await h.bridge.registry.execute(identity, command, timeout_s=5)

            assert (await send(gw.RemoteStart(1, "APP-ABC"))).accepted
            assert _last(cp) == ("RemoteStart", {"id_tag": "APP-ABC", "connector_id": 1})
            await send(gw.RemoteStop("17"))
            assert _last(cp) == ("RemoteStop", {"transaction_id": 17})
            await send(gw.Reset(hard=True))
            assert _last(cp) == ("Reset", {"type": "Hard"})
            assert (await send(gw.UnlockConnector(2))).status == "Unlocked"
            await send(gw.ChangeAvailability(0, operative=False))
            assert _last(cp) == ("Availability", {"connector_id": 0, "type": "Inoperative"})
            config = await send(gw.GetConfiguration(("HeartbeatInterval", "Nope")))
            assert config.data["configuration_key"][0]["value"] == "10"
            assert config.data["unknown_key"] == ["Nope"]
            await send(gw.ChangeConfiguration("HeartbeatInterval", "30"))
            assert _last(cp) == ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "30"})
            await send(gw.TriggerMessage("StatusNotification", 1))
            assert _last(cp) == (
                "Trigger", {"requested_message": "StatusNotification", "connector_id": 1}
            )  # fmt: skip
            firmware = await send(gw.UpdateFirmware("https://fw.example/1.3.bin", WHEN))
            assert firmware.accepted
            assert _last(cp)[1]["retrieve_date"] == "2026-11-21T03:00:00Z"
            diagnostics = await send(gw.GetDiagnostics("ftp://logs.example/"))
            assert diagnostics.data == {"file_name": "diag.zip"}

            cp.answers["Reset"] = "Rejected"  # an answer, not an error
            rejected = await send(gw.Reset())
            assert rejected.status == "Rejected" and not rejected.accepted
            with pytest.raises(gw.CommandRejected):
                await send(gw.RemoteStop("not-a-number"))

    run(scenario())


def test_every_command_reaches_a_201_charger_as_its_201_call(container, clock, identity) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            cp = await h.charger(identity, "2.0.1")

            async def send(command: gw.Command) -> gw.CommandResult:
                return await h.bridge.registry.execute(identity, command, timeout_s=5)

            await send(gw.RemoteStart(1, "APP-ABC"))
            action, kw = _last(cp)
            assert kw["id_token"] == {"id_token": "APP-ABC", "type": "Central"}
            assert kw["evse_id"] == 1 and isinstance(kw["remote_start_id"], int)
            await send(gw.RemoteStop("tx-42"))
            assert _last(cp) == ("RemoteStop", {"transaction_id": "tx-42"})
            await send(gw.Reset(hard=False))
            assert _last(cp) == ("Reset", {"type": "OnIdle"})
            await send(gw.UnlockConnector(2))
            assert _last(cp) == ("Unlock", {"evse_id": 2, "connector_id": 1})
            await send(gw.ChangeAvailability(1, operative=True))
            assert _last(cp) == (
                "Availability", {"operational_status": "Operative", "evse": {"id": 1}}
            )  # fmt: skip
            config = await send(gw.GetConfiguration(("HeartbeatInterval", "TxCtrlr/Nope")))
            assert config.data["configuration_key"] == [
                {"key": "HeartbeatInterval", "value": "10", "readonly": False}
            ]
            assert config.data["unknown_key"] == ["TxCtrlr/Nope"]
            changed = await send(gw.ChangeConfiguration("HeartbeatInterval", "30"))
            assert changed.status == "Accepted"
            assert _last(cp)[1]["set_variable_data"][0]["component"] == {"name": "OCPPCommCtrlr"}
            await send(gw.TriggerMessage("DiagnosticsStatusNotification"))
            assert _last(cp) == ("Trigger", {"requested_message": "LogStatusNotification"})
            await send(gw.UpdateFirmware("https://fw.example/2.bin", WHEN, request_id=7))
            action, kw = _last(cp)
            assert (action, kw["request_id"]) == ("UpdateFirmware", 7)
            assert kw["firmware"]["retrieve_date_time"] == "2026-11-21T03:00:00Z"
            log = await send(gw.GetDiagnostics("ftp://logs.example/"))
            assert log.data["filename"] == "log.zip"
            assert _last(cp)[1]["log_type"] == "DiagnosticsLog"

    run(scenario())


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_offline_timeout_and_callerror_become_gateway_errors(
    container, clock, identity, version
) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            with pytest.raises(gw.ChargerOffline):
                await h.bridge.registry.execute(identity, gw.Reset(), timeout_s=1)

            cp = await h.charger(identity, version)
            cp.answers["Reset"] = NotSupportedError()
            with pytest.raises(gw.CommandRejected) as rejected:
                await h.bridge.registry.execute(identity, gw.Reset(), timeout_s=5)
            assert "NotSupported" in rejected.value.message

            # A charger that never answers: the caller gets a timeout, not a hang.
            await h.sockets[-1].close()
            await eventually(lambda: identity not in h.bridge.registry)
            silent = await h.open(identity, subprotocols=(f"ocpp{version}",))
            await eventually(lambda: identity in h.bridge.registry)
            with pytest.raises(gw.ChargerTimeout):
                await h.bridge.registry.execute(identity, gw.Reset(), timeout_s=0.3)

            # ... and one that disconnects while we wait is offline.
            pending = asyncio.create_task(
                h.bridge.registry.execute(identity, gw.Reset(), timeout_s=5)
            )
            await silent.recv()  # the Reset call arrived
            await silent.close()
            with pytest.raises(gw.ChargerOffline):
                await pending

    run(scenario())


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_a_reset_answered_just_before_the_charger_drops_is_accepted_not_offline(
    container, clock, identity, version
) -> None:  # type: ignore[no-untyped-def]
    # Chargers answer a Reset and reboot at once: the answer and the close arrive
    # together, and the answer must win (the command was accepted, not lost).
    import json

    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            for _ in range(5):  # the two land in varying order within a loop turn
                raw = await h.open(identity, subprotocols=(f"ocpp{version}",))
                await eventually(lambda: identity in h.bridge.registry)
                pending = asyncio.create_task(
                    h.bridge.registry.execute(identity, gw.Reset(hard=True), timeout_s=5)
                )
                call = json.loads(await raw.recv())
                await raw.send(json.dumps([3, call[1], {"status": "Accepted"}]))
                await raw.close()
                result = await pending
                assert result.status == "Accepted"
                await eventually(lambda: identity not in h.bridge.registry)

    run(scenario())
