"""The embedded default (architecture.md): the OCPP bridge in the `wattpass run`
process, beside the API, and a few simulated chargers so the platform is alive.

    bridge = EmbeddedBridge(container, BridgeSettings.from_env(port=9000))
    fleet = DemoFleet(lambda: bridge.url, [DemoCharger("WP-MALL-01", "…", 2)], speed=60)

`EmbeddedBridge` runs the central system, its health monitor and firmware campaigns on
an event loop of its own thread, bills ended sessions through the container's
session-ended port, and hands its in-process `ChargerGateway` to the container, so the
API's remote starts and stops reach the chargers without Redis. Both are supervised
components (backend.server.Component): start, stop, alive, banner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backend.server import ComponentError
from ocpp_bridge.bootstrap import Bridge, build_bridge
from ocpp_bridge.config import BridgeSettings
from ocpp_bridge.operations import Operations, OperationsSettings
from ocpp_bridge.simulator.clock import SimClock
from ocpp_bridge.simulator.scenarios import _demo_charger
from ocpp_bridge.simulator.simulator import ChargerSimulator

if TYPE_CHECKING:
    from backend.bootstrap import Container

log = logging.getLogger(__name__)
START_TIMEOUT_S = 30.0


class _LoopThread:
    """An asyncio loop in a daemon thread running `main(stop_event)` until stopped."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def run(self, main: Callable[[asyncio.Event, threading.Event], Any]) -> None:
        def target() -> None:
            loop = asyncio.new_event_loop()
            self.loop = loop
            asyncio.set_event_loop(loop)
            self._stop = asyncio.Event()
            try:
                loop.run_until_complete(main(self._stop, self._ready))
            except BaseException as exc:
                self._error = exc
                log.exception("%s stopped on an error", self.name)
            finally:
                self._ready.set()
                with contextlib.suppress(Exception):
                    loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=target, name=self.name, daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise ComponentError(f"{self.name} did not start within {START_TIMEOUT_S:g} s")
        if self._error is not None:
            why = getattr(self._error, "strerror", None) or self._error
            raise ComponentError(f"{self.name} could not start: {why}") from self._error

    def stop(self, timeout: float = 15.0) -> None:
        loop, stop = self.loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


class EmbeddedBridge:
    """The OCPP central system with health monitoring and firmware campaigns, in-process."""

    name = "ocpp-bridge"

    def __init__(self, container: Container, settings: BridgeSettings) -> None:
        self.container = container
        self.settings = settings
        self.bridge: Bridge | None = None
        self._runner = _LoopThread("ocpp-bridge")

    @property
    def url(self) -> str:
        assert self.bridge is not None, "start the bridge first"
        return self.bridge.url

    def start(self) -> None:
        self._runner.run(self._main)

    async def _main(self, stop: asyncio.Event, ready: threading.Event) -> None:
        from backend.services.charger_alerts import StaffAlerts

        c = self.container
        bridge = build_bridge(
            self.settings,
            c.session_factory,
            clock=c.clock,
            session_ended_port=c.session_ended,  # billing (after linking app starts)
        )
        # In one process commands never need Redis: routing stays off here.
        ops_settings = OperationsSettings.from_env(
            float(self.settings.heartbeat_interval_s), redis_url=None
        )
        ops = Operations(bridge, ops_settings, StaffAlerts(c.notifications))
        self.bridge = bridge
        await bridge.start()
        try:
            await ops.start()
            c.charger_gateway = ops.local_gateway()
            ready.set()
            await stop.wait()
        finally:
            c.charger_gateway = None
            # The bridge first: its chargers' last messages still reach the health and
            # firmware listeners, whose own database threads are closed after it.
            await bridge.close()
            await ops.close()

    def stop(self) -> None:
        self._runner.stop()

    def alive(self) -> bool:
        return self._runner.alive()

    def banner(self) -> list[str]:
        return [f"OCPP bridge    {self.url}/<charger identity>"]


@dataclass(frozen=True)
class DemoCharger:
    identity: str
    password: str
    connectors: int = 1
    version: str = "1.6"


def demo_chargers(summary: dict[str, Any]) -> list[DemoCharger]:
    """The demo loader's chargers, with the passwords it issued (backend.demo)."""
    found = []
    for operator in summary.get("operators", []):
        for cp in operator.get("charge_points", []):
            plugs = [p for p in str(cp.get("connectors", "")).split(",") if p.strip()]
            found.append(DemoCharger(cp["ocpp_identity"], cp["ocpp_password"], max(len(plugs), 1)))
    return found


def demo_id_tags(summary: dict[str, Any]) -> list[str]:
    """The demo's RFID cards: the badge-started sessions on connector 1 use them."""
    tags = [
        card["id_tag"]
        for operator in summary.get("operators", [])
        for card in operator.get("rfid_cards", []) or []
        if card.get("id_tag")
    ]
    return tags or ["DEMO-TAG-0001"]


async def waiting_car(sim: ChargerSimulator, connector_id: int, rng: random.Random) -> None:
    """A car plugged in and waiting for its driver to start from the app: after the
    session (stopped from the app, or full and idle a while) it leaves, and another
    car comes."""
    while True:
        try:
            while not sim.online:
                await asyncio.sleep(0.5)
            conn = sim.connector(connector_id)
            if not conn.plugged:
                await sim.plug_in(connector_id, soc_percent=rng.randint(20, 60))
            while conn.transaction is None:  # until an app start
                await asyncio.sleep(0.5)
            tx = conn.transaction
            while conn.transaction is tx and tx.charging_state != "SuspendedEV":
                await asyncio.sleep(0.5)
            await sim.idle(rng.uniform(10, 30) * 60)  # full (or stopped); the driver comes
            await sim.unplug(connector_id)
            await sim.idle(rng.uniform(5, 20) * 60)
        except asyncio.CancelledError:
            raise
        except Exception:  # one charger's trouble must not end the demo
            log.exception("%s/%s: demo car failed; starting over", sim.identity, connector_id)
            await sim.idle(60)


class DemoFleet:
    """Simulated chargers for the demo: connector 1 of each does sessions now and then
    (an RFID badge), every other connector has a car waiting for an app start."""

    name = "simulated-chargers"

    def __init__(
        self,
        url: Callable[[], str],
        chargers: Sequence[DemoCharger],
        speed: float = 60.0,
        *,
        id_tags: Sequence[str] = ("DEMO-TAG-0001",),
        seed: int | None = None,
    ) -> None:
        self.url = url
        self.chargers = list(chargers)
        self.speed = speed
        self.id_tags = tuple(id_tags)
        self.seed = seed
        self.simulators: list[ChargerSimulator] = []
        self._runner = _LoopThread("simulated-chargers")

    def start(self) -> None:
        self._runner.run(self._main)

    async def _main(self, stop: asyncio.Event, ready: threading.Event) -> None:
        clock = SimClock(self.speed)
        rng = random.Random(self.seed)  # noqa: S311 — demo behaviour, not secrets
        url = self.url()
        self.simulators = [
            ChargerSimulator(
                c.identity,
                c.password,
                url,
                version=c.version,
                connectors=c.connectors,
                clock=clock,
                record_limit=200,
                reconnect_delay_s=2 * 60,  # simulated: a couple of real seconds at speed 60
            )
            for c in self.chargers
        ]
        tasks = []
        for sim in self.simulators:
            tasks.append(asyncio.create_task(self._charger(sim, rng)))
        ready.set()  # they connect in the background, retrying until the bridge answers
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(*(s.close() for s in self.simulators), return_exceptions=True)

    async def _charger(self, sim: ChargerSimulator, rng: random.Random) -> None:
        own = random.Random(rng.random())  # noqa: S311
        jobs = [
            asyncio.create_task(waiting_car(sim, n, random.Random(own.random())))  # noqa: S311
            for n in sorted(sim.connectors)
            if n != 1
        ]
        try:
            await _demo_charger(sim, own, self.id_tags)
        finally:
            for job in jobs:
                job.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)

    def stop(self) -> None:
        self._runner.stop()

    def alive(self) -> bool:
        return self._runner.alive()

    def banner(self) -> list[str]:
        names = ", ".join(c.identity for c in self.chargers)
        return [f"Simulated      {len(self.chargers)} chargers ({names}), {self.speed:g}x time"]
