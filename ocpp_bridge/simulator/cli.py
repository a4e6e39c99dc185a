"""Command line of the charger simulator.

    python -m ocpp_bridge.simulator --url ws://127.0.0.1:9000/ocpp --identity CP-1 \\
        --password secret --version 1.6 --scenario full-session --speed 60
    python -m ocpp_bridge.simulator --url ws://127.0.0.1:9000/ocpp --fleet 2000 \\
        --password secret --meter-interval 10 --heartbeat-interval 60 --duration 120
    python -m ocpp_bridge.simulator --url ws://127.0.0.1:9000/ocpp --speed 60 \\
        --demo CP-1:secret:1.6 CP-2:secret:2.0.1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import ssl
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from ocpp_bridge.simulator.clock import SimClock, iso
from ocpp_bridge.simulator.fleet import FleetStats, run_fleet
from ocpp_bridge.simulator.model import SimEvent
from ocpp_bridge.simulator.scenarios import SCENARIOS, run_demo_fleet, run_scenario
from ocpp_bridge.simulator.simulator import ChargerSimulator

ARROWS = {"out": "→", "in": "←", "error": "!"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ocpp_bridge.simulator",
        description="Simulated OCPP 1.6J / 2.0.1 chargers: one scripted charger, a demo "
        "fleet, or a load-generating fleet.",
    )
    p.add_argument("--url", required=True, help="central system base URL, e.g. ws://host:9000/ocpp")
    p.add_argument("--identity", default="CP-1", help="charger identity (appended to the URL)")
    p.add_argument("--password", help="HTTP Basic password (security profile 1)")
    p.add_argument("--version", choices=("1.6", "2.0.1"), default="1.6")
    p.add_argument("--ca-file", help="CA bundle for wss:// (security profile 2)")
    p.add_argument("--speed", type=float, default=60.0, help="simulated seconds per real second")
    p.add_argument("--scenario", choices=SCENARIOS, default="full-session")
    p.add_argument("--connectors", type=int, default=1)
    p.add_argument("--id-tag", default="SIMTAG")
    p.add_argument(
        "--sample-interval", type=int, default=60, help="simulated s between meter values"
    )
    p.add_argument("--firmware-failure", choices=("DownloadFailed", "InstallationFailed"))
    p.add_argument("--connect-timeout", type=float, default=30, help="real seconds")
    p.add_argument("--output", choices=("text", "json", "quiet"), default="text")
    p.add_argument("--fleet", type=int, metavar="N", help="load mode: N lean chargers")
    p.add_argument("--identity-prefix", default="FLEET-", help="fleet identities: PREFIX00001…")
    p.add_argument("--meter-interval", type=float, default=10.0, help="fleet: real seconds")
    p.add_argument("--heartbeat-interval", type=float, default=60.0, help="fleet: real seconds")
    p.add_argument("--duration", type=float, help="fleet: real seconds to run (default: forever)")
    p.add_argument(
        "--demo",
        nargs="+",
        metavar="ID:PASSWORD:VERSION",
        help="keep these chargers doing sessions",
    )
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def printer(output: str, stream: TextIO) -> Callable[[SimEvent], None]:
    def show(event: SimEvent) -> None:
        if output == "json":
            row = {"at": iso(event.at), "direction": event.direction, "action": event.action}
            row.update(payload=event.payload, response=event.response, error=event.error)
            print(json.dumps(row), file=stream, flush=True)
        elif output == "text":
            answer = event.error or json.dumps(event.response)
            print(
                f"{iso(event.at)} {ARROWS.get(event.direction, '?')} {event.action} "
                f"{json.dumps(event.payload)} => {answer}",
                file=stream,
                flush=True,
            )

    return show


def parse_demo(specs: Sequence[str]) -> list[tuple[str, str | None, str]]:
    chargers = []
    for spec in specs:
        identity, _, rest = spec.partition(":")
        password, _, version = rest.rpartition(":") if rest.count(":") else (rest, "", "1.6")
        chargers.append((identity, password or None, version or "1.6"))
    return chargers


async def _single(args: argparse.Namespace, stream: TextIO) -> int:
    sim = ChargerSimulator(
        args.identity,
        args.password,
        args.url,
        version=args.version,
        connectors=args.connectors,
        clock=SimClock(args.speed),
        ca_file=args.ca_file,
        meter_interval_s=args.sample_interval,
    )
    sim.firmware_failure = args.firmware_failure
    sim.listeners.append(printer(args.output, stream))
    try:
        try:
            await sim.connect(timeout=args.connect_timeout)
        except TimeoutError:
            print(f"could not connect and boot: {sim.last_error!r}", file=sys.stderr)
            return 1
        await run_scenario(sim, args.scenario, id_tag=args.id_tag)
        return 0
    finally:
        await sim.close()


async def _fleet(args: argparse.Namespace, stream: TextIO) -> int:
    stats = FleetStats()
    context = ssl.create_default_context(cafile=args.ca_file) if args.ca_file else None

    async def report() -> None:
        while True:
            await asyncio.sleep(5)
            print(json.dumps(stats.summary()), file=stream, flush=True)

    reporter = asyncio.create_task(report())
    try:
        await run_fleet(
            args.url,
            args.fleet,
            version=args.version,
            password=args.password,
            identity_prefix=args.identity_prefix,
            heartbeat_interval_s=args.heartbeat_interval,
            meter_interval_s=args.meter_interval,
            duration_s=args.duration,
            ssl_context=context,
            stats=stats,
        )
    finally:
        reporter.cancel()
        print(json.dumps(stats.summary()), file=stream, flush=True)
    return 0 if stats.booted else 1


async def _demo(args: argparse.Namespace, stream: TextIO) -> int:
    show = printer(args.output, stream)

    def attach(sims: list[ChargerSimulator]) -> None:
        for sim in sims:
            sim.listeners.append(show)

    await run_demo_fleet(
        args.url, parse_demo(args.demo), args.speed, id_tags=(args.id_tag,), on_ready=attach
    )
    return 0


def main(argv: Sequence[str] | None = None, stream: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    out = stream or sys.stdout
    runner = _fleet if args.fleet else _demo if args.demo else _single
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(runner(args, out))
    return 130
