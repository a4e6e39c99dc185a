"""Ready-made journeys: the CLI's scenarios and the demo fleet of the run command."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence

from ocpp_bridge.simulator.clock import SimClock
from ocpp_bridge.simulator.simulator import ChargerSimulator

log = logging.getLogger(__name__)

SCENARIOS = ("full-session", "fault-reset", "offline-replay", "idle")


async def run_scenario(
    sim: ChargerSimulator, name: str, *, id_tag: str = "SIMTAG", connector_id: int = 1
) -> None:
    """Run one named scenario on a connected simulator.

    full-session: plug in, badge, charge until full (taper from 80 %), idle 15 min, unplug.
    fault-reset: a ground failure, then stay Faulted until the central system resets it.
    offline-replay: start charging, lose the network for 30 min, come back, unplug.
    idle: stay connected, answer commands, until cancelled.
    """
    if name == "full-session":
        await sim.plug_in(connector_id, id_tag)
        if sim.connector(connector_id).transaction is not None:
            await sim.charge(connector_id)
            await sim.idle(15 * 60)
        await sim.unplug(connector_id)
    elif name == "fault-reset":
        await sim.fault(connector_id, "GroundFailure")
        while sim.connector(connector_id).faulted or not sim.online:
            await asyncio.sleep(0.2)
    elif name == "offline-replay":
        await sim.plug_in(connector_id, id_tag)
        await sim.idle(10 * 60)
        await sim.go_offline()
        await sim.idle(30 * 60)
        await sim.come_back()
        await sim.idle(5 * 60)
        await sim.unplug(connector_id)
    elif name == "idle":
        await asyncio.Event().wait()
    else:
        raise ValueError(f"unknown scenario {name!r}; one of {', '.join(SCENARIOS)}")


async def _demo_charger(sim: ChargerSimulator, rng: random.Random, id_tags: Sequence[str]) -> None:
    await sim.connect(timeout=None)  # waits, retrying, until the central system is up
    while True:
        try:
            await sim.idle(rng.uniform(5, 45) * 60)
            tx = await sim.plug_in(
                1,
                rng.choice(list(id_tags)),
                battery_wh=rng.choice([40_000, 58_000, 77_000]),
                soc_percent=rng.randint(10, 60),
            )
            if tx is not None:
                await sim.charge(1, duration_s=rng.uniform(30, 150) * 60)
                await sim.idle(rng.uniform(0, 20) * 60)
            await sim.unplug(1)
        except asyncio.CancelledError:
            raise
        except Exception:  # one charger's trouble must not end the demo
            log.exception("%s: demo session failed; starting over", sim.identity)
            for conn in sim.connectors.values():
                conn.plugged, conn.transaction = False, None
            await sim.idle(60)


async def run_demo_fleet(
    url: str,
    chargers: Sequence[tuple[str, str | None, str]],
    speed: float = 60.0,
    *,
    id_tags: Sequence[str] = ("DEMO-TAG-0001",),
    seed: int | None = None,
    on_ready: Callable[[list[ChargerSimulator]], None] | None = None,
) -> None:
    """Keep `chargers` ((identity, password, version) each) connected, doing a session
    now and then, until cancelled. Time runs `speed` times faster than real time."""
    clock = SimClock(speed)
    rng = random.Random(seed)  # noqa: S311 - demo behaviour, not secrets
    sims = [
        ChargerSimulator(identity, password, url, version=version, clock=clock, record_limit=200)
        for identity, password, version in chargers
    ]
    if on_ready is not None:
        on_ready(sims)
    tasks = [
        asyncio.create_task(_demo_charger(sim, random.Random(rng.random()), id_tags))  # noqa: S311
        for sim in sims
    ]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(sim.close() for sim in sims), return_exceptions=True)
