"""Billable idle (blocking) time: domain.md §5, the hotel model of seed 001.

The fee runs from the moment charging completes until the car is unplugged, only
inside the site's daily window in the site's local time, after an optional grace
period, billed per whole minute (a partial minute is free).

"Inside the window" means: the site's wall clock shows a time inside the window. On
the days the clocks change that is not always one interval per day — a window opening
at 02:30 on a spring-forward night opens when the clock jumps to 03:00, and on a
fall-back night the repeated hour is in or out of the window each time it is shown —
so every local day's window is turned into the exact set of UTC instants whose wall
time it contains (shared/wall_clock.py). Instants are compared as aware datetimes or
integer microseconds, never as local clock readings or floats, so the answer never
depends on the machine's own time zone and loses nothing to rounding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.wall_clock import (
    EPOCH,
    US_PER_DAY,
    US_PER_MINUTE,
    US_PER_SECOND,
    WindowTable,
    day_intervals,
    from_us,
    to_us,
    wall_range_to_utc,
)

__all__ = [
    "EPOCH",
    "US_PER_DAY",
    "US_PER_MINUTE",
    "US_PER_SECOND",
    "IdlePeriod",
    "IdleWindow",
    "IdleWindowError",
    "billable_idle",
    "from_us",
    "to_us",
    "wall_range_to_utc",
]


class IdleWindowError(ValueError):
    """A window or a period that cannot be priced; the message says why."""


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)  # ZoneInfo caches instances per key
    except (ZoneInfoNotFoundError, ValueError):
        raise IdleWindowError(f"Unknown time zone {name!r}.") from None


_TABLES: dict[tuple[time, time, str], WindowTable] = {}


@dataclass(frozen=True)
class IdleWindow:
    """A daily window in local wall-clock time. start == end means all day; end < start
    crosses midnight (e.g. 22:00–06:00)."""

    start: time
    end: time
    timezone: str
    _table: WindowTable | None = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise IdleWindowError("Window times are local wall-clock times, without a zone.")
        if self.start.second or self.end.second or self.start.microsecond or self.end.microsecond:
            raise IdleWindowError("Window times are whole minutes.")
        tz = _zone(self.timezone)
        table = None
        if not self.all_day:
            key = (self.start, self.end, self.timezone)
            table = _TABLES.get(key)
            if table is None:
                table = _TABLES.setdefault(key, WindowTable(self.start, self.end, tz))
        object.__setattr__(self, "_table", table)

    @property
    def all_day(self) -> bool:
        return self.start == self.end

    def describe(self) -> str:
        if self.all_day:
            return f"all day ({self.timezone})"
        return f"{self.start:%H:%M}–{self.end:%H:%M} {self.timezone}"

    def intervals(self, first: date, last: date) -> list[tuple[datetime, datetime]]:
        """The UTC intervals of the windows opening on local dates first..last: one per
        day, two when a clock change splits the window."""
        tz = _zone(self.timezone)
        return [
            (from_us(lo), from_us(hi))
            for i in range((last - first).days + 1)
            for lo, hi in day_intervals(self.start, self.end, tz, first + timedelta(days=i))
        ]

    def overlap_us(self, lo: int, hi: int) -> int:
        """Microseconds of [lo, hi) (µs since the epoch) inside the window."""
        if hi <= lo:
            return 0
        if self._table is None:
            return hi - lo
        return self._table.overlap_us(lo, hi)

    def minutes_counter(self) -> Callable[[datetime, datetime], int] | None:
        """`billable_minutes(lo, hi)` of the window (aware lo < hi: whole minutes of
        [lo, hi) inside it), or None for an all-day window: what a hot loop keeps at
        hand instead of going through the window each time."""
        return None if self._table is None else self._table.billable_minutes


def _aware_us(moment: datetime, name: str) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise IdleWindowError(f"{name} must carry its time zone (an aware datetime).")
    return to_us(moment)


@dataclass(frozen=True)
class IdlePeriod:
    """The idle period of one session and the part of it that is billed."""

    full_at: datetime
    ended_at: datetime
    billable_from: datetime
    billable_seconds: int
    billable_minutes: int
    segments: tuple[tuple[datetime, datetime], ...]

    @property
    def idle_minutes(self) -> int:
        """Whole minutes between the car being full and the unplug (billed or not)."""
        return (to_us(self.ended_at) - to_us(self.full_at)) // US_PER_MINUTE


def billable_idle(
    full_at: datetime, ended_at: datetime, window: IdleWindow | None, grace_minutes: int = 0
) -> IdlePeriod:
    """Whole minutes of idle time to bill (a partial minute is free).

    window None means the fee runs at any hour. The grace period starts when the car is
    full; it is not shifted into the window.
    """
    full, end = _aware_us(full_at, "full_at"), _aware_us(ended_at, "ended_at")
    if end < full:
        raise IdleWindowError("The session ended before the car was full.")
    if grace_minutes < 0:
        raise IdleWindowError("Grace minutes cannot be negative.")
    start = min(full + grace_minutes * US_PER_MINUTE, end)
    if end <= start:
        spans: list[tuple[int, int]] = []
    elif window is None or window._table is None:
        spans = [(start, end)]
    else:
        spans = window._table.segments(start, end)
    total = sum(hi - lo for lo, hi in spans)
    return IdlePeriod(
        from_us(full),
        from_us(end),
        from_us(start),
        total // US_PER_SECOND,
        total // US_PER_MINUTE,
        tuple((from_us(lo), from_us(hi)) for lo, hi in spans),
    )
