"""The one place that wires the bridge: `build_bridge(settings, session_factory,
listeners, clock)` → a `Bridge` to `await serve()` and `await close()`.

The embedded run command starts it in-process beside the API (same session factory);
`python -m ocpp_bridge` runs it alone. Nothing is created at import.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker
from websockets.asyncio.server import Server, serve

from backend.db.base import utcnow
from backend.services.session_batch import MeterOutcome, MeterReport, record_meter_batch
from backend.services.session_outbox import LoggingSessionEndedPort, SessionEndedPort
from ocpp_bridge.auth import ChargerAuthenticator
from ocpp_bridge.config import BridgeSettings
from ocpp_bridge.core import BridgeCore
from ocpp_bridge.events import Listeners
from ocpp_bridge.persistence import Database, GroupCommitWriter, LastSeen, OutboxRelay
from ocpp_bridge.registry import ConnectionRegistry
from ocpp_bridge.server import CentralSystem, select_subprotocol

log = logging.getLogger(__name__)


class Bridge:
    """A running (or runnable) OCPP central system.

    `registry` and `listeners` are the extension points (command routing, health,
    firmware campaigns); `loop` is the event loop it runs on once started.
    """

    def __init__(
        self,
        settings: BridgeSettings,
        session_factory: sessionmaker[Session],
        listeners: Listeners,
        clock: Callable[[], datetime],
        session_ended_port: SessionEndedPort,
        registry: ConnectionRegistry,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.listeners = listeners
        self.clock = clock
        self.port_in = session_ended_port
        self.registry = registry
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port: int | None = None  # the bound TCP port (settings.port may be 0)
        self._server: Server | None = None
        self._stop: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def url(self) -> str:
        scheme = "wss" if self.settings.tls else "ws"
        return f"{scheme}://{self.settings.host}:{self.port}/ocpp"

    async def start(self) -> None:
        """Listen; return once chargers can connect."""
        settings = self.settings
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        # Not touched: ocpp.messages.ASYNC_VALIDATION is process-wide, and simulators
        # may share this process. The compiled checks (fastcheck.py) skip it anyway.
        self.db = Database(self.session_factory, settings.db_threads)
        rules = settings.rules

        def flush(s: Session, reports: Sequence[MeterReport]) -> list[MeterOutcome]:
            return record_meter_batch(s, reports, self.clock(), rules)

        self.writer: GroupCommitWriter[MeterReport, MeterOutcome] = GroupCommitWriter(
            self.session_factory,
            flush,
            max_batch=settings.writer_max_batch,
            max_delay_s=settings.writer_max_delay_s,
        )
        self.last_seen = LastSeen(self.db)
        self.relay = OutboxRelay(self.db, self.port_in, self.clock)
        self.core = BridgeCore(
            settings, self.db, self.writer, self.last_seen, self.relay, self.listeners, self.clock
        )
        self.authenticator = ChargerAuthenticator(
            self.db, settings.auth_threads, settings.auth_cache_size
        )
        central = CentralSystem(self.core, self.registry, self.authenticator)
        self.writer.start()
        self.core.run_events()
        self._server = await serve(
            central.handler,
            settings.host,
            settings.port,
            select_subprotocol=select_subprotocol,
            process_request=central.process_request,
            ssl=_tls(settings),
            ping_interval=settings.ping_interval_s,
            ping_timeout=settings.ping_timeout_s,
            open_timeout=30,  # a reconnect storm queues handshakes behind argon2
            compression=None,  # OCPP frames are small; deflate costs CPU per message
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._tasks = [
            asyncio.create_task(self._every(settings.last_seen_flush_s, self.last_seen.flush)),
            asyncio.create_task(self._every(settings.housekeeping_s, self.core.housekeeping)),
        ]
        self.relay.kick()  # notices a previous run still owed
        log.info("OCPP central system listening on %s", self.url)

    async def serve(self) -> None:
        """Start if needed and run until `close()` or `request_stop()`."""
        if self._server is None:
            await self.start()
        assert self._stop is not None
        await self._stop.wait()
        await self.close()

    def request_stop(self) -> None:
        """Thread-safe: make `serve()` return (after closing)."""
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)

    async def close(self) -> None:
        """Close every charger connection, write what is pending, release threads."""
        if self._server is None:
            return
        log.info(
            "closing: %d meter messages in %d batches, %.1f s storing",
            self.writer.items,
            self.writer.batches,
            self.writer.busy_s,
        )
        server, self._server = self._server, None
        server.close()  # closes the chargers' websockets; their handlers unregister
        await server.wait_closed()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.writer.close()
        await self.last_seen.flush()
        await self.relay.close()
        await self.core.close()
        self.authenticator.close()
        self.db.close()
        if self._stop is not None:
            self._stop.set()

    async def _every(self, seconds: float, job: Callable[[], object]) -> None:
        while True:
            await asyncio.sleep(seconds)
            result = job()
            if asyncio.iscoroutine(result):
                await result


def _tls(settings: BridgeSettings) -> ssl.SSLContext | None:
    """Security profile 2: TLS 1.2+ with the configured certificate and key."""
    if not settings.tls:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.tls_cert or "", settings.tls_key)
    return context


def build_bridge(
    settings: BridgeSettings,
    session_factory: sessionmaker[Session],
    listeners: Listeners | None = None,
    clock: Callable[[], datetime] | None = None,
    *,
    session_ended_port: SessionEndedPort | None = None,
    registry: ConnectionRegistry | None = None,
) -> Bridge:
    return Bridge(
        settings,
        session_factory,
        listeners or Listeners(),
        clock or utcnow,
        session_ended_port or LoggingSessionEndedPort(),
        registry or ConnectionRegistry(),
    )
