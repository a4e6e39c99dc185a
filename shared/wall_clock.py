"""Daily windows of local wall-clock time laid onto UTC, exactly, across midnight and
clock changes; the machinery under the idle fee's window (shared/idle.py).

A window opening on a local day covers the instants at which the site's wall clock shows
a time inside it. Around a clock change that is not one interval (a time in the skipped
hour never shows; one in the repeated hour shows twice), so each local day is turned into
the exact UTC intervals, found by the zone's offsets on either side of the change. Instants
are integer microseconds since the epoch: no float, no machine time zone.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, date, datetime, time, timedelta
from threading import Lock
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
US_PER_SECOND: Final = 1_000_000
US_PER_MINUTE: Final = 60 * US_PER_SECOND
US_PER_DAY: Final = 86_400 * US_PER_SECOND
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_CHUNK_DAYS: Final = 62  # a window's table grows by at least this many local days
_MAX_TABLE_DAYS: Final = 40 * 366  # beyond this a table starts afresh instead of growing
_NEVER: Final = 1 << 80  # µs, far beyond datetime.max
_NEVER_AT: Final = datetime.max.replace(tzinfo=UTC)


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact, no float)."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * US_PER_SECOND + delta.microseconds


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def _offset_us(us: int, tz: ZoneInfo) -> int:
    offset = from_us(us).astimezone(tz).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return offset // timedelta(microseconds=1)


def _wall_us(wall: datetime) -> int:
    """A naive wall-clock time as microseconds, as if it were UTC."""
    return to_us(wall.replace(tzinfo=UTC))


def wall_range_to_utc(w0: datetime, w1: datetime, tz: ZoneInfo) -> list[tuple[int, int]]:
    """The instants (µs since the epoch, half-open intervals) at which the wall clock of
    `tz` shows a time in [w0, w1), for naive w0 < w1 less than a day or so apart.

    Wall time is UTC + offset, with the offset constant between transitions; the range
    is assumed to contain at most one transition (true of every zone in use).
    """
    a = min(to_us(w0.replace(tzinfo=tz, fold=f)) for f in (0, 1))
    b = max(to_us(w1.replace(tzinfo=tz, fold=f)) for f in (0, 1))
    off_a, off_b = _offset_us(a, tz), _offset_us(b, tz)
    lo_wall, hi_wall = _wall_us(w0), _wall_us(w1)
    if off_a == off_b:
        return [(lo_wall - off_a, hi_wall - off_a)]
    # Find the transition to the second: offsets change at whole seconds.
    lo_s, hi_s = a // US_PER_SECOND, -(-b // US_PER_SECOND)
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if _offset_us(mid * US_PER_SECOND, tz) == off_a:
            lo_s = mid
        else:
            hi_s = mid
    switch = hi_s * US_PER_SECOND
    pieces = [
        (lo_wall - off_a, min(hi_wall - off_a, switch)),
        (max(lo_wall - off_b, switch), hi_wall - off_b),
    ]
    return [(lo, hi) for lo, hi in pieces if hi > lo]


def day_intervals(start: time, end: time, tz: ZoneInfo, day: date) -> list[tuple[int, int]]:
    """The window opening on local date `day` (start == end: the whole local day)."""
    close_day = day + timedelta(days=1) if end <= start else day
    return wall_range_to_utc(datetime.combine(day, start), datetime.combine(close_day, end), tz)


class _Cover(NamedTuple):
    """One immutable state of a table: readers take it in one step, so a table growing in
    another thread never shows them half of its new lists."""

    first_day: int  # epoch days of the local days whose windows are listed
    last_day: int
    safe_lo: int  # µs; a range inside [safe_lo, safe_hi] is fully covered
    safe_hi: int
    opens: list[int]  # sorted, disjoint, ending with a sentinel that never opens
    closes: list[int]
    safe_lo_at: datetime  # the same, as aware datetimes, for the pricing loop
    safe_hi_at: datetime
    opens_at: list[datetime]
    closes_at: list[datetime]


_EMPTY = _Cover(0, -1, 0, -1, [_NEVER], [_NEVER], EPOCH, EPOCH, [_NEVER_AT], [_NEVER_AT])


class WindowTable:
    """A window's UTC intervals, sorted and disjoint, for a growing range of local days;
    shared by every equal IdleWindow, so each local day is worked out once."""

    __slots__ = ("_grow", "at", "end", "start", "state", "tz")

    def __init__(self, start: time, end: time, tz: ZoneInfo) -> None:
        self.start, self.end, self.tz = start, end, tz
        self.state = _EMPTY
        # the datetime half of the state as a plain tuple (unpacked faster than a
        # NamedTuple): (safe_lo_at, safe_hi_at, opens_at, closes_at)
        self.at = (EPOCH, EPOCH, _EMPTY.opens_at, _EMPTY.closes_at)
        self._grow = Lock()

    def _cover(self, lo_us: int, hi_us: int) -> _Cover:
        """A state covering [lo_us, hi_us], growing the table if needed."""
        with self._grow:
            old = self.state
            if old.safe_lo <= lo_us and hi_us <= old.safe_hi:
                return old  # another thread grew it meanwhile
            # An instant's local date is within a day of its UTC date, and a window that
            # opened the local day before may still be open: two days either side.
            first, last = lo_us // US_PER_DAY - 2, hi_us // US_PER_DAY + 2
            keep = old.first_day <= old.last_day
            if keep and max(last, old.last_day) - min(first, old.first_day) <= _MAX_TABLE_DAYS:
                first, last = min(first, old.first_day), max(last, old.last_day)
            else:
                keep = False  # empty, or far apart: start afresh
            first = max(first - _CHUNK_DAYS, date.min.toordinal() - _EPOCH_ORDINAL + 2)
            last = min(last + _CHUNK_DAYS, date.max.toordinal() - _EPOCH_ORDINAL - 2)
            if keep:
                days = [*range(first, old.first_day), *range(old.last_day + 1, last + 1)]
                intervals = list(zip(old.opens[:-1], old.closes[:-1], strict=True))
            else:
                days, intervals = list(range(first, last + 1)), []
            for day in days:
                local = date.fromordinal(day + _EPOCH_ORDINAL)
                intervals.extend(day_intervals(self.start, self.end, self.tz, local))
            intervals.sort()
            safe_lo, safe_hi = (first + 2) * US_PER_DAY, (last - 1) * US_PER_DAY
            self.state = new = _Cover(
                first,
                last,
                safe_lo,
                safe_hi,
                [*(lo for lo, _ in intervals), _NEVER],
                [*(hi for _, hi in intervals), _NEVER],
                from_us(safe_lo),
                from_us(safe_hi),
                [*(from_us(lo) for lo, _ in intervals), _NEVER_AT],
                [*(from_us(hi) for _, hi in intervals), _NEVER_AT],
            )
            self.at = (new.safe_lo_at, new.safe_hi_at, new.opens_at, new.closes_at)
            return new

    def overlap_us(self, lo: int, hi: int) -> int:
        """Microseconds of [lo, hi) inside the window, for lo < hi."""
        return sum(b - a for a, b in self.segments(lo, hi))

    def segments(self, lo: int, hi: int) -> list[tuple[int, int]]:
        """The parts of [lo, hi) inside the window, for lo < hi."""
        state = self.state
        if lo < state.safe_lo or hi > state.safe_hi:
            state = self._cover(lo, hi)
        opens, closes = state.opens, state.closes
        i = bisect_right(closes, lo)
        out = []
        while opens[i] < hi:
            out.append((max(opens[i], lo), min(closes[i], hi)))
            i += 1
        return out

    def billable_minutes(self, lo: datetime, hi: datetime) -> int:
        """Whole minutes of [lo, hi) inside the window, for aware lo < hi.

        The same count as overlap_us() // one minute, on datetimes: the hot path of
        pricing, where turning every instant into microseconds would cost more."""
        safe_lo, safe_hi, opens, closes = self.at
        if lo < safe_lo or hi > safe_hi:
            grown = self._cover(to_us(lo), to_us(hi))
            opens, closes = grown.opens_at, grown.closes_at
        i = bisect_right(closes, lo)
        opened = opens[i]
        if opened >= hi:
            return 0
        if opened < lo:
            opened = lo
        closed = closes[i]
        if hi <= closed:
            inside = hi - opened
        else:
            inside = closed - opened
            i += 1
            while opens[i] < hi:
                closed = closes[i]
                inside += (hi if hi < closed else closed) - opens[i]
                i += 1
        # A whole number of seconds plus a fraction: the fraction never adds a minute.
        return (inside.days * 86_400 + inside.seconds) // 60
