"""What the OCPP handlers of both versions call: version-neutral operations that run the
backend's services off the event loop and tell the listeners (events.py) what happened.

Handlers parse a message into the dataclasses of `backend.services.*` and call one
method here; they never touch the database or a listener themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from backend.services import charger_state, session_access, session_stop
from backend.services.bridge_records import ChargerRef
from backend.services.charger_state import BootIn, StatusIn
from backend.services.session_access import Authorization
from backend.services.session_batch import MeterOutcome, MeterReport
from backend.services.session_events import UpdateIn, UpdateOutcome, update_session
from backend.services.session_stop import StopIn, StopOutcome
from backend.services.sessions import StartIn, StartOutcome, start_session
from ocpp_bridge.config import BridgeSettings
from ocpp_bridge.events import FirmwareStatusChanged, Listeners, StatusChanged
from ocpp_bridge.persistence import Database, GroupCommitWriter, LastSeen, OutboxRelay

log = logging.getLogger(__name__)


class Charger(Protocol):
    ref: ChargerRef
    registration: str


class BridgeCore:
    def __init__(
        self,
        settings: BridgeSettings,
        db: Database,
        writer: GroupCommitWriter[MeterReport, MeterOutcome],
        last_seen: LastSeen,
        relay: OutboxRelay,
        listeners: Listeners,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.rules = settings.rules
        self.db = db
        self.writer = writer
        self.last_seen = last_seen
        self.relay = relay
        self.listeners = listeners
        self.clock = clock
        # Events go out in order from one task, after the charger has been answered: a
        # slow listener never delays an acknowledgement.
        self._events: asyncio.Queue[tuple[str, tuple[object, ...]]] = asyncio.Queue()
        self._dispatcher: asyncio.Task[None] | None = None

    def run_events(self) -> None:
        self._dispatcher = asyncio.create_task(self._dispatch(), name="bridge-events")

    async def close(self) -> None:
        if self._dispatcher is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._events.join(), timeout=2)
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher

    def emit(self, method: str, *args: object) -> None:
        self._events.put_nowait((method, args))

    async def _dispatch(self) -> None:
        while True:
            method, args = await self._events.get()
            try:
                await self.listeners.emit(method, *args)
            finally:
                self._events.task_done()

    def now(self) -> datetime:
        return self.clock()

    def seen(self, charger: Charger) -> None:
        self.last_seen.touch(charger.ref.charge_point_id, self.clock())

    def _ended(self, ended: list[int]) -> None:
        if ended:
            self.relay.kick()

    async def connected(self, charger: Charger) -> None:
        await self.db.run(charger_state.set_online, charger.ref, True, self.clock())
        self.emit("charger_connected", charger.ref.identity, charger.ref.ocpp_version)

    async def disconnected(self, charger: Charger) -> None:
        try:
            await self.db.run(charger_state.set_online, charger.ref, False, self.clock())
        finally:
            self.emit("charger_disconnected", charger.ref.identity)

    async def boot(self, charger: Charger, info: BootIn) -> str:
        decision = await self.db.run(charger_state.boot, charger.ref, info, self.clock())
        charger.registration = decision
        self.emit("charger_booted", charger.ref.identity, info.firmware_version)
        return decision

    async def status(self, charger: Charger, status: StatusIn) -> None:
        ended = await self.db.run(
            charger_state.record_status, charger.ref, status, self.clock(), self.rules
        )
        self._ended(ended)
        self.emit(
            "status_changed",
            StatusChanged(
                charger.ref.identity,
                status.connector_id,
                status.status,
                status.error_code,
                self.clock(),
            ),
        )

    async def firmware_status(self, charger: Charger, status: str, request_id: int | None) -> None:
        self.emit(
            "firmware_status_changed",
            FirmwareStatusChanged(charger.ref.identity, status, request_id, self.clock()),
        )

    async def authorize(self, charger: Charger, id_tag: str) -> Authorization:
        return await self.db.run(
            session_access.authorize, id_tag, charger.ref.site_id, self.clock()
        )

    async def start_transaction(self, charger: Charger, start: StartIn) -> StartOutcome:
        outcome = await self.db.run(start_session, charger.ref, start, self.clock(), self.rules)
        self._ended(outcome.ended)
        return outcome

    async def meter(self, report: MeterReport) -> MeterOutcome:
        """Stored and committed (with other chargers' values) before this returns."""
        return await self.writer.submit(report)

    async def update(self, charger: Charger, event: UpdateIn) -> UpdateOutcome:
        outcome = await self.db.run(update_session, charger.ref, event, self.clock(), self.rules)
        self._ended(outcome.ended)
        return outcome

    async def stop(self, charger: Charger, stop: StopIn) -> StopOutcome:
        outcome = await self.db.run(
            session_stop.stop_session, charger.ref, stop, self.clock(), self.rules
        )
        self._ended(outcome.ended)
        return outcome

    async def housekeeping(self) -> None:
        """Overdue unplugs end, failed notices are retried."""
        try:
            ended = await self.db.run(
                session_stop.complete_overdue, self.clock(), self.settings.unplug_wait
            )
            if ended:
                log.info("%d stopped sessions ended without an unplug report", len(ended))
            await self.relay.deliver_due()
        except Exception:
            log.exception("bridge housekeeping failed; trying again next time")
