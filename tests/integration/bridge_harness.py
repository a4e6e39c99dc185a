"""Shared by the tests/integration/test_bridge_*.py modules: a bridge on a free loopback
port with the test database and FakeClock, a recording listener, a session-ended port
that can be told to fail, and chargers played by the `ocpp` library's own ChargePoint
(1.6 and 2.0.1) — real websockets, real PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint as Cp16
from ocpp.v16 import call_result as r16
from ocpp.v16.enums import Action as A16
from ocpp.v201 import ChargePoint as Cp201
from ocpp.v201 import call_result as r201
from ocpp.v201.enums import Action as A201
from websockets.asyncio.client import ClientConnection, connect

from backend.services.session_outbox import SessionEnded, SessionEndedPort
from ocpp_bridge.bootstrap import Bridge, build_bridge
from ocpp_bridge.config import BridgeSettings
from ocpp_bridge.events import Listeners
from tests.factories import CHARGER_PASSWORD


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout=60))  # type: ignore[arg-type]


class Recorder:
    """A BridgeListener that remembers every event."""

    def __init__(self) -> None:
        self.events: list[tuple[str, tuple[Any, ...]]] = []

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [args for method, args in self.events if method == name]

    async def charger_connected(self, identity: str, ocpp_version: str) -> None:
        self.events.append(("charger_connected", (identity, ocpp_version)))

    async def charger_disconnected(self, identity: str) -> None:
        self.events.append(("charger_disconnected", (identity,)))

    async def charger_booted(self, identity: str, firmware_version: str) -> None:
        self.events.append(("charger_booted", (identity, firmware_version)))

    async def status_changed(self, event: Any) -> None:
        self.events.append(("status_changed", (event,)))

    async def firmware_status_changed(self, event: Any) -> None:
        self.events.append(("firmware_status_changed", (event,)))


class FakePort(SessionEndedPort):
    def __init__(self) -> None:
        self.received: list[SessionEnded] = []
        self.failures = 0  # fail this many calls before accepting

    def session_ended(self, event: SessionEnded) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("payments are down")
        self.received.append(event)


class Client16(Cp16):
    """A 1.6 charger that accepts every command (tests may change `answers`)."""

    answers: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answers = {}
        self.received: list[tuple[str, dict[str, Any]]] = []

    def _answer(self, action: str, default: str, kw: dict[str, Any]) -> str:
        self.received.append((action, kw))
        answer = self.answers.get(action, default)
        if isinstance(answer, Exception):
            raise answer  # the library turns it into a CALLERROR
        return str(answer)

    @on(A16.remote_start_transaction)
    def on_remote_start(self, **kw: Any) -> Any:
        return r16.RemoteStartTransaction(self._answer("RemoteStart", "Accepted", kw))

    @on(A16.remote_stop_transaction)
    def on_remote_stop(self, **kw: Any) -> Any:
        return r16.RemoteStopTransaction(self._answer("RemoteStop", "Accepted", kw))

    @on(A16.reset)
    def on_reset(self, **kw: Any) -> Any:
        return r16.Reset(self._answer("Reset", "Accepted", kw))

    @on(A16.unlock_connector)
    def on_unlock(self, **kw: Any) -> Any:
        return r16.UnlockConnector(self._answer("Unlock", "Unlocked", kw))

    @on(A16.change_availability)
    def on_availability(self, **kw: Any) -> Any:
        return r16.ChangeAvailability(self._answer("Availability", "Accepted", kw))

    @on(A16.get_configuration)
    def on_get_configuration(self, **kw: Any) -> Any:
        self.received.append(("GetConfiguration", kw))
        return r16.GetConfiguration(
            configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "10"}],
            unknown_key=[k for k in kw.get("key", []) if k != "HeartbeatInterval"] or None,
        )

    @on(A16.change_configuration)
    def on_change_configuration(self, **kw: Any) -> Any:
        return r16.ChangeConfiguration(self._answer("ChangeConfiguration", "Accepted", kw))

    @on(A16.trigger_message)
    def on_trigger(self, **kw: Any) -> Any:
        return r16.TriggerMessage(self._answer("Trigger", "Accepted", kw))

    @on(A16.update_firmware)
    def on_update_firmware(self, **kw: Any) -> Any:
        self.received.append(("UpdateFirmware", kw))
        return r16.UpdateFirmware()

    @on(A16.get_diagnostics)
    def on_get_diagnostics(self, **kw: Any) -> Any:
        self.received.append(("GetDiagnostics", kw))
        return r16.GetDiagnostics(file_name="diag.zip")


class Client201(Cp201):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answers: dict[str, Any] = {}
        self.received: list[tuple[str, dict[str, Any]]] = []

    def _answer(self, action: str, default: str, kw: dict[str, Any]) -> str:
        self.received.append((action, kw))
        answer = self.answers.get(action, default)
        if isinstance(answer, Exception):
            raise answer  # the library turns it into a CALLERROR
        return str(answer)

    @on(A201.request_start_transaction)
    def on_start(self, **kw: Any) -> Any:
        return r201.RequestStartTransaction(self._answer("RemoteStart", "Accepted", kw))

    @on(A201.request_stop_transaction)
    def on_stop(self, **kw: Any) -> Any:
        return r201.RequestStopTransaction(self._answer("RemoteStop", "Accepted", kw))

    @on(A201.reset)
    def on_reset(self, **kw: Any) -> Any:
        return r201.Reset(self._answer("Reset", "Accepted", kw))

    @on(A201.unlock_connector)
    def on_unlock(self, **kw: Any) -> Any:
        return r201.UnlockConnector(self._answer("Unlock", "Unlocked", kw))

    @on(A201.change_availability)
    def on_availability(self, **kw: Any) -> Any:
        return r201.ChangeAvailability(self._answer("Availability", "Accepted", kw))

    @on(A201.get_variables)
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **kw: Any) -> Any:
        self.received.append(("GetVariables", {"get_variable_data": get_variable_data}))
        results = [
            {
                "attribute_status": "Accepted"
                if d["variable"]["name"] == "HeartbeatInterval"
                else "UnknownVariable",
                "component": d["component"],
                "variable": d["variable"],
                **(
                    {"attribute_value": "10"}
                    if d["variable"]["name"] == "HeartbeatInterval"
                    else {}
                ),
            }
            for d in get_variable_data
        ]
        return r201.GetVariables(get_variable_result=results)

    @on(A201.set_variables)
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **kw: Any) -> Any:
        self.received.append(("SetVariables", {"set_variable_data": set_variable_data}))
        return r201.SetVariables(
            set_variable_result=[
                {
                    "attribute_status": "Accepted",
                    "component": d["component"],
                    "variable": d["variable"],
                }
                for d in set_variable_data
            ]
        )

    @on(A201.trigger_message)
    def on_trigger(self, **kw: Any) -> Any:
        return r201.TriggerMessage(self._answer("Trigger", "Accepted", kw))

    @on(A201.update_firmware)
    def on_update_firmware(self, **kw: Any) -> Any:
        return r201.UpdateFirmware(self._answer("UpdateFirmware", "Accepted", kw))

    @on(A201.get_log)
    def on_get_log(self, **kw: Any) -> Any:
        return r201.GetLog(self._answer("GetLog", "Accepted", kw), filename="log.zip")


def basic(identity: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{identity}:{password}".encode()).decode()


@dataclass
class Harness:
    bridge: Bridge
    recorder: Recorder
    port: FakePort
    clock: Any
    sockets: list[ClientConnection] = field(default_factory=list)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.bridge.url

    async def open(
        self,
        identity: str,
        *,
        subprotocols: tuple[str, ...] = ("ocpp1.6",),
        password: str = CHARGER_PASSWORD,
        ssl_context: ssl.SSLContext | None = None,
        path: str | None = None,
    ) -> ClientConnection:
        ws = await connect(
            path or f"{self.url}/{identity}",
            subprotocols=list(subprotocols) or None,  # type: ignore[arg-type]
            additional_headers={"Authorization": basic(identity, password)},
            open_timeout=10,
            ssl=ssl_context,
        )
        self.sockets.append(ws)
        return ws

    async def charger(self, identity: str, version: str = "1.6", **kw: Any) -> Any:
        """A connected charger played by the ocpp library, its receive loop running."""
        subprotocol = "ocpp1.6" if version == "1.6" else "ocpp2.0.1"
        ws = await self.open(identity, subprotocols=(subprotocol,), **kw)
        cp = (Client16 if version == "1.6" else Client201)(identity, ws, response_timeout=10)
        self.tasks.append(asyncio.create_task(_serve(cp)))
        await eventually(lambda: identity in self.bridge.registry)
        return cp

    def ts(self, **delta: float) -> str:
        """A charger timestamp relative to the test clock."""
        moment: datetime = self.clock.now + timedelta(**delta)
        return moment.isoformat().replace("+00:00", "Z")


async def _serve(cp: Any) -> None:
    with contextlib.suppress(Exception):
        await cp.start()


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def raw_call(ws: ClientConnection, frame: str | list[Any]) -> list[Any]:
    """Send a frame as is; return the bridge's answer."""
    await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
    return json.loads(await asyncio.wait_for(ws.recv(), timeout=5))  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def running_bridge(container: Any, clock: Any, **overrides: Any) -> AsyncIterator[Harness]:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "last_seen_flush_s": 0.05,
        "housekeeping_s": 3600,  # tests call housekeeping themselves
        "command_timeout_s": 5,
    }
    settings = BridgeSettings(**(values | overrides))
    recorder, port = Recorder(), FakePort()
    bridge = build_bridge(
        settings, container.session_factory, Listeners([recorder]), clock, session_ended_port=port
    )
    await bridge.start()
    harness = Harness(bridge, recorder, port, clock)
    try:
        yield harness
    finally:
        for ws in harness.sockets:
            await ws.close()
        await bridge.close()
        for task in harness.tasks:
            task.cancel()
        await asyncio.gather(*harness.tasks, return_exceptions=True)
