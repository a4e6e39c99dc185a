"""The charger's link to the central system: connect, boot, heartbeat, the queue.

One supervisor task per simulated charger owns the websocket: it connects (subprotocol,
HTTP Basic auth, optional TLS), boots (retrying after the interval on Pending/Rejected),
announces every connector's status, replays the offline queue and keeps heartbeats going;
when the connection drops it reconnects, unless the charger was told to stay offline.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
from collections.abc import Coroutine
from datetime import datetime
from typing import Any
from urllib.parse import quote

from ocpp.exceptions import OCPPError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from ocpp_bridge.simulator.clock import SimClock
from ocpp_bridge.simulator.config import ConfigStore
from ocpp_bridge.simulator.model import Connector
from ocpp_bridge.simulator.queue import OfflineQueue, QueuedMessage
from ocpp_bridge.simulator.recorder import Recorder, to_wire

log = logging.getLogger(__name__)

LINK_ERRORS = (ConnectionClosed, ConnectionError, OSError, asyncio.TimeoutError)


class NotConnected(ConnectionError):
    """The charger has no open, booted connection right now."""


class SimulatorBase(Recorder):
    def __init__(
        self,
        identity: str,
        password: str | None,
        url: str,
        *,
        version: str = "1.6",
        connectors: int = 1,
        clock: SimClock | None = None,
        speed: float = 1.0,
        vendor: str = "Wattpass",
        model: str = "SimCharger",
        firmware_version: str = "1.0.0",
        ca_file: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        queue_capacity: int = 1000,
        record_limit: int = 10_000,
        boot_retry_s: int = 30,
        reconnect_delay_s: int = 30,
        reboot_delay_s: int = 10,
        response_timeout: float = 30,
    ) -> None:
        from ocpp_bridge.simulator.v16 import V16Protocol
        from ocpp_bridge.simulator.v201 import V201Protocol

        protocols = {"1.6": V16Protocol, "2.0.1": V201Protocol}
        if version not in protocols:
            raise ValueError(f"version must be one of {sorted(protocols)}")
        self.identity, self.password, self.version = identity, password, version
        self.endpoint = f"{url.rstrip('/')}/{quote(identity, safe='')}"
        self.clock = clock or SimClock(speed)
        self.vendor, self.model, self.firmware_version = vendor, model, firmware_version
        self.charger = Connector(0)  # connector 0: the charger itself
        self.connectors = {i: Connector(i) for i in range(1, connectors + 1)}
        self.config = ConfigStore(connectors, on_change=self._config_changed)
        self.queue = OfflineQueue(queue_capacity)
        self._init_recorder(record_limit)
        self.registration: str | None = None  # the last BootNotification status
        self.boot_count = 0
        self.last_error: BaseException | None = None
        self.boot_retry_s, self.reconnect_delay_s = boot_retry_s, reconnect_delay_s
        self.reboot_delay_s, self.response_timeout = reboot_delay_s, response_timeout
        if ssl_context is None and ca_file:
            ssl_context = ssl.create_default_context(cafile=ca_file)
        self._ssl = ssl_context
        self.protocol = protocols[version](self)
        self._boot_reason = "PowerUp"
        self._offline = True
        self._accepted = False
        self._ready = asyncio.Event()
        self._closed: asyncio.Future[None] | None = None
        self._ws: ClientConnection | None = None
        self._cp: Any = None
        self._supervisor: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._drainer: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- lifecycle -------------------------------------------------------------------
    @property
    def online(self) -> bool:
        """Connected and booted (Accepted): messages go out now."""
        return self._ready.is_set()

    async def connect(self, timeout: float | None = 30) -> None:
        """Connect and boot; returns once the central system has accepted the boot."""
        self._offline = False
        if self._supervisor is None or self._supervisor.done():
            self._supervisor = asyncio.create_task(self._supervise(), name=f"sim-{self.identity}")
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def close(self) -> None:
        """Disconnect for good and stop every task of this charger."""
        await self._go_down()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _go_down(self) -> None:
        self._offline = True
        if self._ws is not None:
            await self._ws.close()
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
        self._supervisor = None

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `coro` as a task owned by this charger (cancelled on close)."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: task failed", self.identity, exc_info=task.exception())

    # -- connection ------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        if self.password is None:
            return {}
        token = base64.b64encode(f"{self.identity}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    async def _supervise(self) -> None:
        while not self._offline:
            try:
                ws = await connect(
                    self.endpoint,
                    subprotocols=[Subprotocol(self.protocol.subprotocol)],
                    additional_headers=self._headers(),
                    ssl=self._ssl,
                    proxy=None,
                    compression=None,
                    open_timeout=self.response_timeout,
                    max_size=1 << 20,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # refused, 401, TLS, ...: try again later
                self.last_error = exc
                self.record("error", "Connect", {"error": repr(exc)}, None)
                await self.clock.sleep(self.reconnect_delay_s)
                continue
            await self._run_connection(ws)
            if not self._offline:
                await self.clock.sleep(self.reboot_delay_s)

    async def _run_connection(self, ws: ClientConnection) -> None:
        self._ws, self._cp = ws, self.protocol.charge_point(ws)
        self._closed = asyncio.get_running_loop().create_future()
        reader = asyncio.create_task(self._cp.start())
        booting = asyncio.create_task(self._boot())
        try:
            await asyncio.wait({reader, booting}, return_when=asyncio.FIRST_COMPLETED)
            if booting.done() and not booting.cancelled() and booting.exception() is None:
                await asyncio.wait({reader})
        finally:
            self._ready.clear()
            self._accepted = False
            self._closed.set_result(None)
            for task in (booting, reader, self._heartbeat, self._drainer):
                if task is not None:
                    task.cancel()
            await asyncio.gather(booting, reader, return_exceptions=True)
            self._ws = self._cp = None
            await ws.close()

    async def _boot(self) -> None:
        while True:
            status, interval = await self.protocol.boot(self._boot_reason)
            self.registration = status
            if status == "Accepted":
                break
            await self.clock.sleep(interval if interval > 0 else self.boot_retry_s)
        if interval > 0:
            self.config.set_internal("HeartbeatInterval", str(interval))
        self._accepted = True
        self.boot_count += 1
        self._boot_reason = "PowerUp"
        await self.protocol.status(self.charger, force=True)
        for connector in self.connectors.values():
            await self.protocol.status(connector, force=True)
        self._ready.set()
        self._restart_heartbeat()
        self._kick_drain()

    def _restart_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        if self._ready.is_set():
            self._heartbeat = asyncio.create_task(self._heartbeat_loop())

    async def _heartbeat_loop(self) -> None:
        while (interval := self.config.get_int("HeartbeatInterval")) > 0:
            await self.clock.sleep(interval)
            await self.send_now(self.protocol.heartbeat())

    def _config_changed(self, key: str) -> None:
        if key == "HeartbeatInterval":
            self._restart_heartbeat()

    # -- sending ---------------------------------------------------------------------
    async def call(self, payload: Any) -> Any:
        """Send one call and return its result; CallErrors raise (never suppressed)."""
        if self._cp is None:
            raise NotConnected(self.identity)
        wire = to_wire(payload)
        action = type(payload).__name__
        try:
            result = await self._cp.call(payload, suppress=False)
        except OCPPError as exc:
            self.record("out", action, wire, None, error=f"{type(exc).__name__}: {exc}")
            raise
        self.record("out", action, wire, to_wire(result))
        return result

    async def send_now(self, payload: Any) -> Any | None:
        """A message that is only worth sending now (status, heartbeat, notification):
        dropped while not booted; a link or protocol error is recorded, not raised."""
        if not self._accepted:
            return None
        try:
            return await self.call(payload)
        except (*LINK_ERRORS, OCPPError) as exc:
            self.last_error = exc
            return None

    def submit(self, message: QueuedMessage) -> asyncio.Future[Any]:
        """Queue a transaction message; it is sent in order, now or after reconnecting."""
        message.queued_offline = not self.online
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        inner = message.on_result

        def finished(result: Any) -> None:
            if inner is not None:
                inner(result)
            if not done.done():
                done.set_result(result)

        message.on_result = finished
        self.queue.put(message)
        self._kick_drain()
        return done

    async def deliver(self, message: QueuedMessage) -> Any | None:
        """Submit and, when online, wait until it was answered (or the link dropped)."""
        done = self.submit(message)
        if self.online and self._closed is not None:
            await asyncio.wait({done, self._closed}, return_when=asyncio.FIRST_COMPLETED)
        return done.result() if done.done() else None

    def _kick_drain(self) -> None:
        if self.online and (self._drainer is None or self._drainer.done()):
            self._drainer = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        while self.online and (message := self.queue.peek()) is not None:
            payload = message.build(message)
            try:
                result = None if payload is None else await self.call(payload)
            except OCPPError:
                result = None  # answered with an error: dropped so the queue keeps moving
            except LINK_ERRORS:
                return  # stays queued for the next connection
            self.queue.discard(message)
            if message.on_result is not None:
                message.on_result(result)

    def _now(self) -> datetime:
        return self.clock.now()
