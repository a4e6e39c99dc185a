"""Load generation: thousands of lean simulated chargers in one process.

A fleet charger is not a `ChargerSimulator`: it speaks just enough OCPP-J (boot, status,
heartbeats, meter values; every command answered NotImplemented) with hand-made JSON
frames, one coroutine and no schema validation, so N ≥ 2,000 connections fit in one
process. Per connection it keeps a websocket with small buffers and no compression
(permessage-deflate alone costs hundreds of KiB per connection) and a few integers.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import random
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from ocpp_bridge.simulator.clock import iso

log = logging.getLogger(__name__)
CALL, RESULT, ERROR = 2, 3, 4


@dataclass
class FleetStats:
    chargers: int = 0
    connected: int = 0  # open right now
    peak_connected: int = 0
    booted: int = 0
    connect_failures: int = 0
    disconnects: int = 0
    calls: int = 0
    answered: int = 0
    call_errors: int = 0
    timeouts: int = 0
    latency_total_s: float = 0.0
    latency_max_s: float = 0.0
    by_action: dict[str, int] = field(default_factory=dict)

    def record(self, action: str, latency_s: float) -> None:
        self.answered += 1
        self.latency_total_s += latency_s
        self.latency_max_s = max(self.latency_max_s, latency_s)
        self.by_action[action] = self.by_action.get(action, 0) + 1

    @property
    def mean_latency_ms(self) -> float:
        return 1000 * self.latency_total_s / self.answered if self.answered else 0.0

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if not k.startswith("latency")}
        out["mean_latency_ms"] = round(self.mean_latency_ms, 2)
        out["max_latency_ms"] = round(1000 * self.latency_max_s, 2)
        return out


class _CallFailed(Exception):
    pass


class LeanCharger:
    """One fleet charger; `run()` until cancelled or `stop_at` (loop time)."""

    __slots__ = ("energy_wh", "identity", "ids", "password", "stats", "version")

    def __init__(self, identity: str, password: str | None, version: str, stats: FleetStats):
        self.identity, self.password, self.version, self.stats = identity, password, version, stats
        self.energy_wh = random.randint(0, 500_000)  # noqa: S311 - load data, not secrets
        self.ids = itertools.count(1)

    def headers(self) -> dict[str, str]:
        if self.password is None:
            return {}
        token = base64.b64encode(f"{self.identity}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    async def call(self, ws: ClientConnection, action: str, payload: dict[str, Any]) -> Any:
        loop = asyncio.get_running_loop()
        uid = str(next(self.ids))
        started = loop.time()
        self.stats.calls += 1
        await ws.send(json.dumps([CALL, uid, action, payload]))
        try:
            async with asyncio.timeout(30):
                while True:
                    frame = json.loads(await ws.recv())
                    if frame[0] == CALL:
                        await self.refuse(ws, frame)
                    elif frame[1] == uid:
                        break
        except TimeoutError:
            self.stats.timeouts += 1
            raise _CallFailed(action) from None
        if frame[0] == ERROR:
            self.stats.call_errors += 1
            raise _CallFailed(f"{action}: {frame[2]}")
        self.stats.record(action, loop.time() - started)
        return frame[2]

    async def refuse(self, ws: ClientConnection, frame: list[Any]) -> None:
        await ws.send(json.dumps([ERROR, frame[1], "NotImplemented", "fleet charger", {}]))

    def boot_payload(self) -> dict[str, Any]:
        if self.version == "1.6":
            return {"chargePointVendor": "Wattpass", "chargePointModel": "FleetSim"}
        return {
            "chargingStation": {"vendorName": "Wattpass", "model": "FleetSim"},
            "reason": "PowerUp",
        }

    def status_payload(self, now: str) -> dict[str, Any]:
        if self.version == "1.6":
            return {
                "connectorId": 1,
                "errorCode": "NoError",
                "status": "Available",
                "timestamp": now,
            }
        return {"timestamp": now, "connectorStatus": "Available", "evseId": 1, "connectorId": 1}

    def meter_payload(self, now: str, power_w: int) -> dict[str, Any]:
        if self.version == "1.6":
            sampled: list[dict[str, Any]] = [
                {
                    "value": str(self.energy_wh),
                    "measurand": "Energy.Active.Import.Register",
                    "unit": "Wh",
                },
                {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"},
            ]
            return {"connectorId": 1, "meterValue": [{"timestamp": now, "sampledValue": sampled}]}
        sampled = [
            {
                "value": self.energy_wh,
                "measurand": "Energy.Active.Import.Register",
                "unitOfMeasure": {"unit": "Wh"},
            },
            {"value": power_w, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}},
        ]
        return {"evseId": 1, "meterValue": [{"timestamp": now, "sampledValue": sampled}]}

    async def session(
        self, ws: ClientConnection, heartbeat_s: float, meter_s: float, stop_at: float | None
    ) -> None:
        loop = asyncio.get_running_loop()

        def now() -> str:
            return iso(datetime.now(UTC))

        while True:
            answer = await self.call(ws, "BootNotification", self.boot_payload())
            if answer.get("status") == "Accepted":
                break
            await asyncio.sleep(min(float(answer.get("interval") or 10), heartbeat_s))
        self.stats.booted += 1
        await self.call(ws, "StatusNotification", self.status_payload(now()))
        start = loop.time()
        next_hb = start + random.uniform(0, heartbeat_s)  # noqa: S311 - spread the load
        next_mv = start + random.uniform(0, meter_s)  # noqa: S311
        while stop_at is None or loop.time() < stop_at:
            t = loop.time()
            if t >= next_mv:
                power_w = 11_000
                self.energy_wh += int(power_w * meter_s / 3600)
                await self.call(ws, "MeterValues", self.meter_payload(now(), power_w))
                next_mv += meter_s
            if t >= next_hb:
                await self.call(ws, "Heartbeat", {})
                next_hb += heartbeat_s
            wake = min(next_hb, next_mv, stop_at or next_hb)
            try:
                async with asyncio.timeout(max(0.0, wake - loop.time())):
                    frame = json.loads(await ws.recv())
                if frame[0] == CALL:
                    await self.refuse(ws, frame)
            except TimeoutError:
                pass

    async def run(
        self,
        endpoint: str,
        *,
        heartbeat_s: float,
        meter_s: float,
        stop_at: float | None,
        gate: asyncio.Semaphore,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        loop = asyncio.get_running_loop()
        subprotocol = Subprotocol("ocpp1.6" if self.version == "1.6" else "ocpp2.0.1")
        while stop_at is None or loop.time() < stop_at:
            try:
                async with gate:  # ramp up: only so many handshakes at once
                    ws = await connect(
                        endpoint,
                        subprotocols=[subprotocol],
                        additional_headers=self.headers(),
                        compression=None,
                        proxy=None,
                        ssl=ssl_context,
                        max_size=65_536,
                        max_queue=4,
                        write_limit=4096,
                        ping_interval=None,
                        open_timeout=60,
                    )
            except Exception as exc:  # refused, 401, TLS, timeout: try again
                self.stats.connect_failures += 1
                log.debug("%s: connect failed: %r", self.identity, exc)
                await _pause(random.uniform(1, 3), stop_at)  # noqa: S311
                continue
            self.stats.connected += 1
            self.stats.peak_connected = max(self.stats.peak_connected, self.stats.connected)
            try:
                await self.session(ws, heartbeat_s, meter_s, stop_at)
                return
            except (ConnectionClosed, _CallFailed, OSError) as exc:
                self.stats.disconnects += 1
                log.debug("%s: session ended: %r", self.identity, exc)
                await _pause(random.uniform(0.5, 2), stop_at)  # noqa: S311
            finally:
                self.stats.connected -= 1
                await ws.close()


async def _pause(seconds: float, stop_at: float | None) -> None:
    if stop_at is not None:
        seconds = min(seconds, stop_at - asyncio.get_running_loop().time())
    await asyncio.sleep(max(0.0, seconds))


async def run_fleet(
    url: str,
    chargers: int | Sequence[tuple[str, str | None]],
    *,
    version: str = "1.6",
    password: str | None = None,
    identity_prefix: str = "FLEET-",
    heartbeat_interval_s: float = 60.0,
    meter_interval_s: float = 10.0,
    duration_s: float | None = None,
    concurrent_handshakes: int = 50,
    ssl_context: ssl.SSLContext | None = None,
    stats: FleetStats | None = None,
) -> FleetStats:
    """Run a fleet (`chargers`: a count, identities `<prefix>00001`… sharing `password`,
    or (identity, password) pairs) for `duration_s` real seconds, or until cancelled.
    Each charger boots, reports Available, then sends MeterValues every
    `meter_interval_s` and a Heartbeat every `heartbeat_interval_s` (real seconds).
    `stats` is filled as it goes, so a benchmark can sample it while the fleet runs."""
    if isinstance(chargers, int):
        chargers = [(f"{identity_prefix}{i:05d}", password) for i in range(1, chargers + 1)]
    stats = stats or FleetStats()
    stats.chargers = len(chargers)
    loop = asyncio.get_running_loop()
    stop_at = None if duration_s is None else loop.time() + duration_s
    gate = asyncio.Semaphore(concurrent_handshakes)
    base = url.rstrip("/")
    tasks = [
        asyncio.create_task(
            LeanCharger(identity, pw, version, stats).run(
                f"{base}/{quote(identity, safe='')}",
                heartbeat_s=heartbeat_interval_s,
                meter_s=meter_interval_s,
                stop_at=stop_at,
                gate=gate,
                ssl_context=ssl_context,
            )
        )
        for identity, pw in chargers
    ]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return stats
