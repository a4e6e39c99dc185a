"""A test-only central system for the charger simulator's tests, and the tests of the
connection itself: security profiles 1 (Basic auth) and 2 (TLS with a CA file),
subprotocol negotiation, reconnecting after the central system drops the link.

`FakeCentralSystem` is built on the ocpp library's server side and records every message
it receives; it can answer BootNotification with Pending/Rejected first and send commands.
It is deliberately independent of ocpp_bridge's real central system.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint as Cp16
from ocpp.v16 import call_result as r16
from ocpp.v201 import ChargePoint as Cp201
from ocpp.v201 import call_result as r201
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ocpp_bridge.simulator import ChargerSimulator, SimClock

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run(coro: Awaitable[Any], timeout: float = 30) -> Any:
    """Run one async test body on a fresh loop, with a hard time limit."""

    async def limited() -> Any:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(limited())


@dataclass
class Received:
    identity: str
    action: str
    payload: dict[str, Any]


@dataclass
class FakeCentralSystem:
    passwords: dict[str, str] = field(default_factory=dict)
    boot_answers: list[str] = field(default_factory=list)  # then Accepted
    boot_interval: int = 300
    rejected_tags: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    ssl_context: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        self.port = 0
        self.chargers: dict[str, Any] = {}
        self.connections = 0
        self._tx_ids = itertools.count(100)
        self._changed = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------
    async def __aenter__(self) -> FakeCentralSystem:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            subprotocols=["ocpp1.6", "ocpp2.0.1"],  # type: ignore[list-item]
            process_request=self._check_auth,
            ssl=self.ssl_context,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        scheme = "wss" if self.ssl_context else "ws"
        return f"{scheme}://127.0.0.1:{self.port}/ocpp"

    def simulator(
        self, identity: str = "CP-1", version: str = "1.6", **kw: Any
    ) -> ChargerSimulator:
        self.passwords.setdefault(identity, f"pw-{identity}")
        kw.setdefault("clock", SimClock(speed=kw.pop("speed", 600), start=START))
        return ChargerSimulator(identity, self.passwords[identity], self.url, version=version, **kw)

    def _check_auth(self, connection: ServerConnection, request: Request) -> Response | None:
        identity = request.path.rsplit("/", 1)[-1]
        expected = base64.b64encode(f"{identity}:{self.passwords.get(identity)}".encode())
        if request.headers.get("Authorization") != f"Basic {expected.decode()}":
            return connection.respond(HTTPStatus.UNAUTHORIZED, "bad credentials\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        identity = ws.request.path.rsplit("/", 1)[-1]
        cls = Cs16 if ws.subprotocol == "ocpp1.6" else Cs201
        cp = cls(identity, ws)
        cp.csms = self
        self.chargers[identity] = cp
        self.connections += 1
        try:
            await cp.start()
        except ConnectionClosed:
            pass
        finally:
            if self.chargers.get(identity) is cp:
                del self.chargers[identity]

    # -- what tests use ----------------------------------------------------------------
    def log(self, identity: str, action: str, payload: dict[str, Any]) -> None:
        self.received.append(Received(identity, action, payload))
        self._changed.set()
        self._changed = asyncio.Event()

    def of(self, action: str, identity: str | None = None) -> list[dict[str, Any]]:
        return [
            r.payload
            for r in self.received
            if r.action == action and (identity is None or r.identity == identity)
        ]

    def actions(self, identity: str | None = None) -> list[str]:
        return [r.action for r in self.received if identity is None or r.identity == identity]

    async def wait_for(
        self,
        action: str,
        count: int = 1,
        where: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 10,
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            hits = [p for p in self.of(action) if where is None or where(p)]
            if len(hits) >= count:
                return hits[count - 1]
            if loop.time() >= deadline:
                raise AssertionError(f"no {count}× {action}; got {self.actions()}")
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), deadline - loop.time())

    async def send(self, identity: str, payload: Any) -> Any:
        return await self.chargers[identity].call(payload, suppress=False)

    async def drop(self, identity: str) -> None:
        await self.chargers[identity]._connection.close()

    def boot_answer(self) -> str:
        return self.boot_answers.pop(0) if self.boot_answers else "Accepted"

    def next_tx_id(self) -> int:
        return next(self._tx_ids)


class Cs16(Cp16):
    csms: FakeCentralSystem

    def _log(self, action: str, kw: dict[str, Any]) -> None:
        self.csms.log(self.id, action, kw)

    @on("BootNotification")
    def boot(self, **kw: Any) -> Any:
        self._log("BootNotification", kw)
        status = self.csms.boot_answer()
        interval = self.csms.boot_interval if status == "Accepted" else 60
        return r16.BootNotification(current_time=now_iso(), interval=interval, status=status)

    @on("Heartbeat")
    def heartbeat(self, **kw: Any) -> Any:
        self._log("Heartbeat", kw)
        return r16.Heartbeat(current_time=now_iso())

    @on("StatusNotification")
    def status(self, **kw: Any) -> Any:
        self._log("StatusNotification", kw)
        return r16.StatusNotification()

    @on("Authorize")
    def authorize(self, **kw: Any) -> Any:
        self._log("Authorize", kw)
        ok = kw["id_tag"] not in self.csms.rejected_tags
        return r16.Authorize(id_tag_info={"status": "Accepted" if ok else "Invalid"})

    @on("StartTransaction")
    def start_tx(self, **kw: Any) -> Any:
        self._log("StartTransaction", kw)
        return r16.StartTransaction(
            transaction_id=self.csms.next_tx_id(), id_tag_info={"status": "Accepted"}
        )

    @on("MeterValues")
    def meter(self, **kw: Any) -> Any:
        self._log("MeterValues", kw)
        return r16.MeterValues()

    @on("StopTransaction")
    def stop_tx(self, **kw: Any) -> Any:
        self._log("StopTransaction", kw)
        return r16.StopTransaction()

    @on("FirmwareStatusNotification")
    def firmware(self, **kw: Any) -> Any:
        self._log("FirmwareStatusNotification", kw)
        return r16.FirmwareStatusNotification()

    @on("DiagnosticsStatusNotification")
    def diagnostics(self, **kw: Any) -> Any:
        self._log("DiagnosticsStatusNotification", kw)
        return r16.DiagnosticsStatusNotification()


class Cs201(Cp201):
    csms: FakeCentralSystem

    def _log(self, action: str, kw: dict[str, Any]) -> None:
        self.csms.log(self.id, action, kw)

    @on("BootNotification")
    def boot(self, **kw: Any) -> Any:
        self._log("BootNotification", kw)
        status = self.csms.boot_answer()
        interval = self.csms.boot_interval if status == "Accepted" else 60
        return r201.BootNotification(current_time=now_iso(), interval=interval, status=status)

    @on("Heartbeat")
    def heartbeat(self, **kw: Any) -> Any:
        self._log("Heartbeat", kw)
        return r201.Heartbeat(current_time=now_iso())

    @on("StatusNotification")
    def status(self, **kw: Any) -> Any:
        self._log("StatusNotification", kw)
        return r201.StatusNotification()

    @on("Authorize")
    def authorize(self, **kw: Any) -> Any:
        self._log("Authorize", kw)
        ok = kw["id_token"]["id_token"] not in self.csms.rejected_tags
        return r201.Authorize(id_token_info={"status": "Accepted" if ok else "Invalid"})

    @on("TransactionEvent")
    def tx_event(self, **kw: Any) -> Any:
        self._log("TransactionEvent", kw)
        return r201.TransactionEvent()

    @on("MeterValues")
    def meter(self, **kw: Any) -> Any:
        self._log("MeterValues", kw)
        return r201.MeterValues()

    @on("NotifyEvent")
    def notify_event(self, **kw: Any) -> Any:
        self._log("NotifyEvent", kw)
        return r201.NotifyEvent()

    @on("FirmwareStatusNotification")
    def firmware(self, **kw: Any) -> Any:
        self._log("FirmwareStatusNotification", kw)
        return r201.FirmwareStatusNotification()

    @on("LogStatusNotification")
    def log_status(self, **kw: Any) -> Any:
        self._log("LogStatusNotification", kw)
        return r201.LogStatusNotification()


# -- tests of the link ------------------------------------------------------------------


def test_basic_auth_and_subprotocol_per_version() -> None:
    async def body() -> None:
        async with FakeCentralSystem() as csms:
            sims = [csms.simulator("CP-16", "1.6"), csms.simulator("CP-201", "2.0.1")]
            for sim in sims:
                await sim.connect(timeout=5)
            assert type(csms.chargers["CP-16"]) is Cs16
            assert type(csms.chargers["CP-201"]) is Cs201
            boot16, boot201 = (
                csms.of("BootNotification", "CP-16"),
                csms.of("BootNotification", "CP-201"),
            )
            assert boot16[0]["charge_point_vendor"] == "Wattpass"
            assert boot201[0]["charging_station"]["firmware_version"] == "1.0.0"
            assert boot201[0]["reason"] == "PowerUp"
            for sim in sims:
                await sim.close()

    run(body())


def test_wrong_password_is_refused_and_never_boots() -> None:
    async def body() -> None:
        async with FakeCentralSystem() as csms:
            csms.passwords["CP-1"] = "right"
            sim = ChargerSimulator(
                "CP-1", "wrong", csms.url, clock=SimClock(speed=6000, start=START)
            )
            with contextlib.suppress(TimeoutError):
                await sim.connect(timeout=0.5)
            assert not sim.online
            assert "401" in repr(sim.last_error)
            assert csms.of("BootNotification") == []
            await sim.close()

    run(body())


def test_reconnects_and_boots_again_when_the_central_system_drops_it() -> None:
    async def body() -> None:
        async with FakeCentralSystem() as csms:
            sim = csms.simulator("CP-1", "1.6", reboot_delay_s=5)
            await sim.connect(timeout=5)
            await csms.drop("CP-1")
            await csms.wait_for("BootNotification", count=2)
            await sim.wait_for("StatusNotification", count=4)  # 0 and 1, twice
            assert sim.online
            assert csms.connections == 2
            await sim.close()

    run(body())


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(  # noqa: S603 - fixed arguments, test-only certificate
        [  # noqa: S607
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_security_profile_2_wss_with_a_ca_file(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)

    async def body() -> None:
        async with FakeCentralSystem(ssl_context=server_tls) as csms:
            sim = csms.simulator("CP-TLS", "2.0.1", ca_file=str(cert))
            await sim.connect(timeout=5)
            assert csms.url.startswith("wss://")
            assert csms.of("BootNotification", "CP-TLS")
            await sim.close()

    run(body())
