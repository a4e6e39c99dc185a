"""Simulated time: a clock that runs `speed` times faster than the wall clock.

Every delay in the simulator is expressed in simulated seconds and every timestamp it
sends is simulated time, so a two-hour session at speed 3600 takes two real seconds and
still carries timestamps two hours apart.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta


def iso(at: datetime) -> str:
    """OCPP timestamp: UTC, ISO-8601, milliseconds, with a Z."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_iso(value: str | None) -> datetime | None:
    """An OCPP timestamp as an aware datetime; None when absent or unreadable."""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


class SimClock:
    """Simulated UTC time starting at `start`, advancing `speed` simulated seconds per
    real second. One clock can be shared by many simulated chargers."""

    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self._start = (start or datetime.now(UTC)).astimezone(UTC)
        self._real_start = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._real_start) * self.speed)

    def iso_now(self) -> str:
        return iso(self.now())

    def real_seconds(self, sim_seconds: float) -> float:
        return max(0.0, sim_seconds / self.speed)

    async def sleep(self, sim_seconds: float) -> None:
        await asyncio.sleep(self.real_seconds(sim_seconds))

    async def sleep_until(self, at: datetime) -> None:
        """Sleep until simulated time `at` (returns at once if it has passed)."""
        await asyncio.sleep(self.real_seconds((at - self.now()).total_seconds()))
