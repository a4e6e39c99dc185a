"""Billable idle (blocking) time: domain.md §5, the hotel model of seed 001.

The fee runs from the moment charging completes until the car is unplugged, only
inside the site's daily window in the site's local time, after an optional grace
period. Every instant is handled in UTC; the window is laid onto each local date with
zoneinfo, so midnight-crossing windows and DST changes come out right and the answer
never depends on the machine's own time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class IdleWindowError(ValueError):
    """A window or a period that cannot be priced; the message says why."""


@dataclass(frozen=True)
class IdleWindow:
    """A daily window in local wall-clock time. start == end means all day; end < start
    crosses midnight (e.g. 22:00–06:00)."""

    start: time
    end: time
    timezone: str

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise IdleWindowError("Window times are local wall-clock times, without a zone.")
        if self.start.second or self.end.second or self.start.microsecond or self.end.microsecond:
            raise IdleWindowError("Window times are whole minutes.")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise IdleWindowError(f"Unknown time zone {self.timezone!r}.") from None

    @property
    def all_day(self) -> bool:
        return self.start == self.end

    def intervals(self, first: date, last: date) -> list[tuple[datetime, datetime]]:
        """The window's UTC intervals for windows opening on local dates first..last.

        A local time that does not exist on a spring-forward day is read with fold=0,
        i.e. the instant the clock jumps past it; an ambiguous one on a fall-back day is
        its first occurrence.
        """
        tz = ZoneInfo(self.timezone)
        out = []
        day = first
        while day <= last:
            opens = datetime.combine(day, self.start, tz)
            close_day = day + timedelta(days=1) if self.end <= self.start else day
            closes = datetime.combine(close_day, self.end, tz)
            out.append((opens.astimezone(UTC), closes.astimezone(UTC)))
            day += timedelta(days=1)
        return out


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise IdleWindowError(f"{name} must carry its time zone (an aware datetime).")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class IdlePeriod:
    """The idle period of one session and the part of it that is billed."""

    full_at: datetime
    ended_at: datetime
    billable_from: datetime
    billable_seconds: int
    billable_minutes: int
    segments: tuple[tuple[datetime, datetime], ...]


def billable_idle(
    full_at: datetime, ended_at: datetime, window: IdleWindow | None, grace_minutes: int = 0
) -> IdlePeriod:
    """Whole minutes of idle time to bill (a partial minute is free).

    window None means the fee runs at any hour. The grace period starts when the car is
    full; it is not shifted into the window.
    """
    full, end = _aware(full_at, "full_at"), _aware(ended_at, "ended_at")
    if end < full:
        raise IdleWindowError("The session ended before the car was full.")
    if grace_minutes < 0:
        raise IdleWindowError("Grace minutes cannot be negative.")
    start = min(full + timedelta(minutes=grace_minutes), end)
    if window is None or window.all_day:
        segments = [(start, end)] if end > start else []
    else:
        tz = ZoneInfo(window.timezone)
        # A window opening the local day before may still be open at `start`.
        first = start.astimezone(tz).date() - timedelta(days=1)
        last = end.astimezone(tz).date()
        segments = []
        for opens, closes in window.intervals(first, last):
            lo, hi = max(opens, start), min(closes, end)
            if hi > lo:
                segments.append((lo, hi))
    seconds = sum(int((hi - lo).total_seconds()) for lo, hi in segments)
    return IdlePeriod(full, end, start, seconds, seconds // 60, tuple(segments))
