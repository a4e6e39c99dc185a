"""Firmware campaigns on a bridge node: send UpdateFirmware when a job is due, follow
the charger's FirmwareStatusNotifications, confirm the version at its next boot, retry
within the campaign's limits (rules: `backend.services.firmware_jobs`).

`FirmwareManager` is a BridgeListener plus a periodic task. Each tick fails the attempts
that stopped making progress and sends what is due to the chargers connected here; a
charger that boots (it was offline when its campaign came due, or it has just installed
an update) is looked at right away. Sending runs in tasks of its own: the bridge's
events keep flowing while a charger takes its time to answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from backend.services import firmware_store
from backend.services.charger_gateway import GatewayError, UpdateFirmware
from backend.services.firmware_jobs import FirmwareRules
from backend.services.firmware_store import Dispatch
from ocpp_bridge.events import FirmwareStatusChanged, StatusChanged
from ocpp_bridge.persistence import Database
from ocpp_bridge.registry import ConnectionRegistry

log = logging.getLogger(__name__)


class FirmwareStore(Protocol):
    async def claim_due(self, identities: list[str], now: datetime) -> list[Dispatch]: ...

    async def send_answered(self, job_id: int, refused: str | None, now: datetime) -> None: ...

    async def firmware_status(
        self, identity: str, status: str, request_id: int | None, now: datetime
    ) -> int | None: ...

    async def charger_booted(self, identity: str, version: str, now: datetime) -> None: ...

    async def fail_stalled(self, now: datetime) -> int: ...


class DbFirmwareStore:
    """The firmware-job functions of the backend, run off the event loop."""

    def __init__(self, db: Database, rules: FirmwareRules | None = None) -> None:
        self._db = db
        self.rules = rules or FirmwareRules()

    async def claim_due(self, identities: list[str], now: datetime) -> list[Dispatch]:
        return await self._db.run(firmware_store.claim_due, identities, now)

    async def send_answered(self, job_id: int, refused: str | None, now: datetime) -> None:
        await self._db.run(firmware_store.send_answered, job_id, refused, now, self.rules)

    async def firmware_status(
        self, identity: str, status: str, request_id: int | None, now: datetime
    ) -> int | None:
        return await self._db.run(
            firmware_store.firmware_status, identity, status, request_id, now, self.rules
        )

    async def charger_booted(self, identity: str, version: str, now: datetime) -> None:
        await self._db.run(firmware_store.charger_booted, identity, version, now, self.rules)

    async def fail_stalled(self, now: datetime) -> int:
        return await self._db.run(firmware_store.fail_stalled, now, self.rules)


class FirmwareManager:
    def __init__(
        self,
        registry: ConnectionRegistry,
        store: FirmwareStore,
        clock: Callable[[], datetime],
        *,
        interval_s: float = 10.0,
        command_timeout_s: float = 30.0,
    ) -> None:
        self.registry = registry
        self.store = store
        self.clock = clock
        self.interval_s = interval_s
        self.command_timeout_s = command_timeout_s
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="firmware-campaigns")

    async def close(self) -> None:
        tasks = [t for t in [self._task, *self._sending] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.tick()
            except Exception:
                log.exception("firmware tick failed; trying again next time")

    async def tick(self) -> None:
        failed = await self.store.fail_stalled(self.clock())
        if failed:
            log.warning("firmware: %d update attempt(s) stopped making progress", failed)
        await self.dispatch(self.registry.identities())

    async def dispatch(self, identities: list[str]) -> None:
        """Send every due update to these chargers and record their answers."""
        if not identities:
            return
        due = await self.store.claim_due(identities, self.clock())
        if due:
            await asyncio.gather(*(self._send(d) for d in due))

    async def idle(self) -> None:
        """Wait until no UpdateFirmware is on its way (tests, shutdown)."""
        while self._sending:
            await asyncio.gather(*list(self._sending), return_exceptions=True)

    async def _send(self, job: Dispatch) -> None:
        command = UpdateFirmware(job.location, job.retrieve_at, request_id=job.job_id)
        refused: str | None = None
        try:
            answer = await self.registry.execute(job.identity, command, self.command_timeout_s)
            if not answer.status.startswith("Accepted"):
                refused = f"UpdateFirmware answered {answer.status}"
        except GatewayError as exc:
            refused = exc.message
        log.info(
            "firmware: job %d (attempt %d) to %s: %s",
            job.job_id,
            job.attempt,
            job.identity,
            refused or "accepted",
        )
        await self.store.send_answered(job.job_id, refused, self.clock())

    # --- BridgeListener -----------------------------------------------------------------

    async def charger_connected(self, identity: str, ocpp_version: str) -> None:
        return None

    async def charger_disconnected(self, identity: str) -> None:
        return None

    async def charger_booted(self, identity: str, firmware_version: str) -> None:
        await self.store.charger_booted(identity, firmware_version, self.clock())
        task = asyncio.create_task(self._dispatch_one(identity), name=f"firmware-{identity}")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _dispatch_one(self, identity: str) -> None:
        try:
            await self.dispatch([identity])
        except Exception:
            log.exception("firmware dispatch to %s failed", identity)

    async def status_changed(self, event: StatusChanged) -> None:
        return None

    async def firmware_status_changed(self, event: FirmwareStatusChanged) -> None:
        job = await self.store.firmware_status(
            event.identity, event.status, event.request_id, self.clock()
        )
        if job is None:
            log.info("firmware: %s reported %s for no job of ours", event.identity, event.status)
