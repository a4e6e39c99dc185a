"""Health monitoring on a bridge node (domain.md §3: every 10 s; automatic restart).

`HealthMonitor` is a BridgeListener plus a periodic task. It keeps the last status of
every connector of the chargers connected here; a Faulted one starts the restart ladder
of `backend.services.charger_health` (soft reset, hard reset, back-off, a daily limit,
"needs attention"), whose state lives in the database so it survives a restart of this
node and a charger moving to another one. Every `interval_s` (the heartbeat interval) it
moves the ladders on whose settle time or back-off has passed, and marks offline the
chargers not heard from for three heartbeat intervals.

Evaluations run as tasks of their own, never in the listener call: a reset waits for
the charger's answer, and the bridge's events must keep flowing meanwhile. A burst of
statuses (a charger reports every connector after it boots) is judged as a whole,
`debounce_s` after its first message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from backend.services import charger_health_store as store
from backend.services.charger_gateway import GatewayError, Reset
from backend.services.charger_health import (
    HARD_RESET,
    OK,
    HealthPolicy,
    Observation,
    OperatorAlerts,
)
from backend.services.charger_health_store import Decision
from ocpp_bridge.events import FirmwareStatusChanged, StatusChanged
from ocpp_bridge.persistence import Database
from ocpp_bridge.registry import ConnectionRegistry

log = logging.getLogger(__name__)
FAULTED = "Faulted"


class HealthStore(Protocol):
    async def evaluate(self, identity: str, obs: Observation, now: datetime) -> Decision: ...

    async def reset_answered(self, action_id: int, result: str) -> None: ...

    async def sweep(self, connected: list[str], now: datetime, interval_s: float) -> None: ...


class DbHealthStore:
    """The health service's functions, run off the event loop."""

    def __init__(self, db: Database, policy: HealthPolicy, alerts: OperatorAlerts) -> None:
        self._db, self._policy, self._alerts = db, policy, alerts

    async def evaluate(self, identity: str, obs: Observation, now: datetime) -> Decision:
        return await self._db.run(store.evaluate, identity, obs, now, self._policy, self._alerts)

    async def reset_answered(self, action_id: int, result: str) -> None:
        await self._db.run(store.reset_answered, action_id, result)

    async def sweep(self, connected: list[str], now: datetime, interval_s: float) -> None:
        offline = await self._db.run(store.mark_silent_offline, now, interval_s)
        back = await self._db.run(store.mark_heard_again, connected, now, interval_s)
        if offline or back:
            log.info("health: %d charger(s) went silent, %d spoke again", len(offline), len(back))


class HealthMonitor:
    def __init__(
        self,
        registry: ConnectionRegistry,
        store: HealthStore,
        clock: Callable[[], datetime],
        *,
        interval_s: float = 10.0,
        debounce_s: float = 1.0,
        command_timeout_s: float = 30.0,
    ) -> None:
        self.registry = registry
        self.store = store
        self.clock = clock
        self.interval_s = interval_s
        self.debounce_s = debounce_s
        self.command_timeout_s = command_timeout_s
        self._statuses: dict[str, dict[int, tuple[str, str]]] = {}
        self._unhealthy: set[str] = set()  # a ladder runs or we gave up: watch each tick
        self._healthy: set[str] = set()  # judged healthy since it connected: no reads
        self._running: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="health-monitor")

    async def close(self) -> None:
        tasks = [t for t in [self._task, *self._running.values()] if t is not None]
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
                log.exception("health tick failed; trying again next time")

    async def tick(self) -> None:
        """One monitoring round: offline detection, then every ladder that may be due."""
        connected = self.registry.identities()
        await self.store.sweep(connected, self.clock(), self.interval_s)
        due = {i for i in connected if i in self._unhealthy or self._faulted(i)}
        for identity in sorted(due):
            self.kick(identity, delay=0)
        await self.idle()

    async def idle(self) -> None:
        """Wait until no evaluation is running (tests, shutdown)."""
        while self._running:
            await asyncio.gather(*list(self._running.values()), return_exceptions=True)

    # --- BridgeListener -----------------------------------------------------------------

    async def charger_connected(self, identity: str, ocpp_version: str) -> None:
        # What it reported before is stale: it tells every connector again after booting;
        # another node may have moved its ladder on meanwhile.
        self._statuses.pop(identity, None)
        self._healthy.discard(identity)

    async def charger_disconnected(self, identity: str) -> None:
        if self.registry.get(identity) is None:  # not replaced by a newer connection here
            self._statuses.pop(identity, None)

    async def charger_booted(self, identity: str, firmware_version: str) -> None:
        return None

    async def status_changed(self, event: StatusChanged) -> None:
        self._statuses.setdefault(event.identity, {})[event.connector_id] = (
            event.status,
            event.error_code,
        )
        if event.status == FAULTED or event.identity in self._unhealthy:
            self.kick(event.identity, delay=self.debounce_s)
        elif event.identity not in self._running:
            # Maybe a ladder from before this node knew the charger (a restart, a move):
            # the stored state decides; a healthy charger costs one read per burst.
            self.kick(event.identity, delay=self.debounce_s, unless_healthy=True)

    async def firmware_status_changed(self, event: FirmwareStatusChanged) -> None:
        return None

    # --- evaluation ---------------------------------------------------------------------

    def observation(self, identity: str) -> Observation:
        statuses = self._statuses.get(identity)
        if not statuses:
            return Observation(None)
        for connector, (status, error_code) in sorted(statuses.items()):
            if status == FAULTED:
                where = f"Connector {connector}" if connector else "The charger"
                return Observation(True, error_code if error_code != "NoError" else "", where)
        return Observation(False)

    def _faulted(self, identity: str) -> bool:
        return bool(self.observation(identity).faulted)

    def kick(self, identity: str, *, delay: float, unless_healthy: bool = False) -> None:
        """Evaluate the charger soon; at most one evaluation per charger at a time."""
        if identity in self._running:
            self._again.add(identity)
            return
        if unless_healthy and identity in self._healthy:
            return
        task = asyncio.create_task(self._evaluate(identity, delay), name=f"health-{identity}")
        self._running[identity] = task

    async def _evaluate(self, identity: str, delay: float) -> None:
        try:
            if delay:
                await asyncio.sleep(delay)
            while True:
                self._again.discard(identity)
                await self._evaluate_once(identity)
                if identity not in self._again:
                    break
                # More came in meanwhile (a reset's reboot): let that burst finish too.
                await asyncio.sleep(self.debounce_s)
        except Exception:
            log.exception("health evaluation of %s failed", identity)
        finally:
            self._running.pop(identity, None)

    async def _evaluate_once(self, identity: str) -> None:
        if self.registry.get(identity) is None:
            return  # not here (any more): whoever holds it now watches it
        obs = self.observation(identity)
        decision = await self.store.evaluate(identity, obs, self.clock())
        if decision.state == OK:
            self._unhealthy.discard(identity)
            if obs.faulted is False:
                self._healthy.add(identity)
        else:
            self._unhealthy.add(identity)
            self._healthy.discard(identity)
        if decision.reset is None:
            return
        hard = decision.reset == HARD_RESET
        log.warning("health: %s reset of %s", "hard" if hard else "soft", identity)
        result = await self._send_reset(identity, hard)
        if decision.action_id is not None:
            await self.store.reset_answered(decision.action_id, result)

    async def _send_reset(self, identity: str, hard: bool) -> str:
        try:
            answer = await self.registry.execute(identity, Reset(hard=hard), self.command_timeout_s)
        except GatewayError as exc:
            return f"{exc.code}: {exc.message}"
        return answer.status
