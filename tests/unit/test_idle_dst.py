"""Idle windows across midnight and clock changes (domain.md §5), checked by hand on the
2026 changes in Warsaw and Oslo, and against a minute-by-minute count for any input."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.idle import IdleWindow, IdleWindowError, billable_idle, from_us, to_us

WAW, OSL = ZoneInfo("Europe/Warsaw"), ZoneInfo("Europe/Oslo")
SPRING, AUTUMN = (2026, 3, 29), (2026, 10, 25)  # 02:00 → 03:00 and 03:00 → 02:00


def at(tz: ZoneInfo, y: int, mo: int, d: int, h: int, mi: int = 0, fold: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz, fold=fold)


def night(zone: str) -> IdleWindow:
    return IdleWindow(time(22), time(6), zone)


@pytest.mark.parametrize(("tz", "zone"), [(WAW, "Europe/Warsaw"), (OSL, "Europe/Oslo")])
def test_night_window_on_the_short_night(tz, zone):
    # 22:00 CET to 06:00 CEST is 8 hours on the wall clock but 7 real hours.
    period = billable_idle(at(tz, 2026, 3, 28, 21), at(tz, *SPRING, 7), night(zone))
    assert period.billable_minutes == 7 * 60


@pytest.mark.parametrize(("tz", "zone"), [(WAW, "Europe/Warsaw"), (OSL, "Europe/Oslo")])
def test_night_window_on_the_long_night(tz, zone):
    # 22:00 CEST to 06:00 CET: the hour 02:00–03:00 is lived twice, both times in the window.
    period = billable_idle(at(tz, 2026, 10, 24, 21), at(tz, *AUTUMN, 7), night(zone))
    assert period.billable_minutes == 9 * 60


@pytest.mark.parametrize("tz", [WAW, OSL])
def test_day_window_across_midnight_and_the_change(tz):
    window = IdleWindow(time(8), time(22), str(tz))
    spring = billable_idle(at(tz, 2026, 3, 28, 21), at(tz, *SPRING, 9), window)
    autumn = billable_idle(at(tz, 2026, 10, 24, 21), at(tz, *AUTUMN, 9), window)
    assert spring.billable_minutes == autumn.billable_minutes == 60 + 60


def test_window_opening_inside_the_skipped_hour():
    # 02:30 never shows on 29 March: the window opens when the clock jumps to 03:00.
    window = IdleWindow(time(2, 30), time(6), "Europe/Oslo")
    period = billable_idle(at(OSL, *SPRING, 1), at(OSL, *SPRING, 4), window)
    assert period.billable_minutes == 60
    assert [lo.astimezone(OSL).strftime("%H:%M") for lo, _ in period.segments] == ["03:00"]


def test_window_opening_inside_the_repeated_hour():
    # 02:30–06:00 on 25 October: 02:30–03:00 CEST is in, 02:00–02:30 CET (the clock shows
    # 02:xx again, before the window's start) is out, 02:30–03:00 CET is in again.
    window = IdleWindow(time(2, 30), time(6), "Europe/Warsaw")
    period = billable_idle(at(WAW, *AUTUMN, 2), at(WAW, *AUTUMN, 3, fold=1), window)
    assert period.billable_minutes == 60
    assert [(lo.isoformat(), hi.isoformat()) for lo, hi in period.segments] == [
        ("2026-10-25T00:30:00+00:00", "2026-10-25T01:00:00+00:00"),
        ("2026-10-25T01:30:00+00:00", "2026-10-25T02:00:00+00:00"),
    ]


def test_window_closing_inside_the_repeated_hour():
    # 22:00–02:30: 22:00 CEST → 02:30 CEST (4 h 30), then 02:00–02:30 CET once more.
    window = IdleWindow(time(22), time(2, 30), "Europe/Warsaw")
    period = billable_idle(at(WAW, 2026, 10, 24, 21), at(WAW, *AUTUMN, 4), window)
    assert period.billable_minutes == 270 + 30


def test_window_closing_inside_the_skipped_hour():
    # 22:00–02:30 on the short night closes when the clock jumps from 02:00 to 03:00.
    window = IdleWindow(time(22), time(2, 30), "Europe/Warsaw")
    period = billable_idle(at(WAW, 2026, 3, 28, 21), at(WAW, *SPRING, 5), window)
    assert period.billable_minutes == 4 * 60


def test_grace_runs_across_midnight_before_the_window_bills():
    window = night("Europe/Warsaw")
    period = billable_idle(at(WAW, 2026, 11, 20, 23, 50), at(WAW, 2026, 11, 21, 0, 20), window, 15)
    assert period.billable_minutes == 15  # 00:05–00:20
    assert period.billable_from == at(WAW, 2026, 11, 21, 0, 5)


def test_minutes_are_counted_on_the_whole_billable_time_not_per_piece():
    # 60.5 s before the window closes plus 59.5 s after it opens next morning: 120 s,
    # two whole minutes (rounding each piece down first would give one).
    window = IdleWindow(time(8), time(22), "Europe/Warsaw")
    full = at(WAW, 2026, 11, 20, 21, 58) + timedelta(seconds=59, microseconds=500_000)
    end = at(WAW, 2026, 11, 21, 8) + timedelta(seconds=59, microseconds=500_000)
    period = billable_idle(full, end, window)
    assert (period.billable_seconds, period.billable_minutes) == (120, 2)
    # and a partial minute is free
    period = billable_idle(full, end - timedelta(microseconds=1), window)
    assert (period.billable_seconds, period.billable_minutes) == (119, 1)


def test_machine_zone_is_not_the_site_zone():
    with pytest.raises(IdleWindowError):
        billable_idle(datetime(2026, 3, 29, 1), datetime(2026, 3, 29, 5), night("Europe/Oslo"))
    with pytest.raises(IdleWindowError):
        IdleWindow(time(8), time(22), "Europe/Nowhere")


# --- against a count minute by minute -------------------------------------------------

ZONES = ["Europe/Warsaw", "Europe/Oslo", "America/New_York", "Australia/Lord_Howe", "UTC"]
CHANGES = [
    datetime(2026, 3, 29, 1, tzinfo=UTC),  # Europe, spring
    datetime(2026, 10, 25, 1, tzinfo=UTC),  # Europe, autumn
    datetime(2026, 3, 8, 7, tzinfo=UTC),  # New York, spring
    datetime(2026, 11, 1, 6, tzinfo=UTC),  # New York, autumn
    datetime(2026, 4, 4, 15, tzinfo=UTC),  # Lord Howe, 30-minute change
    datetime(2026, 11, 20, 12, tzinfo=UTC),  # an ordinary day
]
clock = st.builds(time, st.integers(0, 23), st.sampled_from([0, 1, 15, 29, 30, 31, 45, 59]))
windows = st.builds(IdleWindow, clock, clock, st.sampled_from(ZONES))
near_a_change = st.builds(
    lambda base, us: base + timedelta(microseconds=us),
    st.sampled_from(CHANGES),
    st.integers(-36 * 3600 * 10**6, 36 * 3600 * 10**6),
)


def in_window(us: int, w: IdleWindow) -> bool:
    wall = from_us(us).astimezone(ZoneInfo(w.timezone)).time()
    if w.start == w.end:
        return True
    if w.start < w.end:
        return w.start <= wall < w.end
    return wall >= w.start or wall < w.end


def counted_seconds(lo: int, hi: int, w: IdleWindow) -> int:
    """Microseconds of [lo, hi) whose wall time is inside the window, one UTC minute at a
    time (every zone here is a whole number of minutes from UTC, so a UTC minute is one
    wall minute and is wholly in or out of the window)."""
    minute = 60 * 10**6
    total, m = 0, lo - lo % minute
    while m < hi:
        if in_window(m, w):
            total += min(hi, m + minute) - max(lo, m)
        m += minute
    return total


@settings(max_examples=250, deadline=None)
@given(near_a_change, st.integers(0, 30 * 3600 * 10**6), windows, st.integers(0, 45))
def test_billable_time_is_exactly_the_time_inside_the_window(full, idle_us, window, grace):
    end = full + timedelta(microseconds=idle_us)
    period = billable_idle(full, end, window, grace)
    start = min(to_us(full) + grace * 60 * 10**6, to_us(end))
    expected = counted_seconds(start, to_us(end), window)
    got = sum(to_us(hi) - to_us(lo) for lo, hi in period.segments)
    assert got == expected
    assert period.billable_seconds == expected // 10**6
    assert period.billable_minutes == expected // (60 * 10**6)
    # the count the pricing loop uses agrees to the minute
    counter = window.minutes_counter()
    if counter is not None and start < to_us(end):
        assert counter(from_us(start), end) == expected // (60 * 10**6)
    # never more than the car stood there, never outside the window
    assert period.billable_seconds <= (end - full).total_seconds()
    for lo, hi in period.segments:
        assert full <= lo < hi <= end
        assert in_window(to_us(lo), window) and in_window(to_us(hi) - 1, window)


@settings(max_examples=40, deadline=None)
@given(windows, st.sampled_from(CHANGES))
def test_a_day_of_windows_lasts_what_the_wall_clock_says(window, change):
    # Over one whole local day around a change, the window lasts its wall length minus
    # the skipped time inside it, or plus the repeated time inside it.
    tz = ZoneInfo(window.timezone)
    day = change.astimezone(tz).date()
    lo = to_us(datetime.combine(day - timedelta(days=1), time(0), tz))
    hi = to_us(datetime.combine(day + timedelta(days=2), time(0), tz))
    assert window.overlap_us(lo, hi) == counted_seconds(lo, hi, window)


def test_far_apart_sessions_and_concurrent_pricing_agree_with_the_count():
    # A fresh window (a zone and times no other test uses), asked from four threads at
    # once about sessions decades apart: every answer equals the count minute by minute.
    window = IdleWindow(time(21, 17), time(5, 43), "America/New_York")
    starts = [datetime(y, m, 28, 19, tzinfo=UTC) for y in (1990, 2026, 2080) for m in (3, 11)]
    cases = [(s + timedelta(hours=h), s + timedelta(hours=h + 15)) for s in starts for h in (0, 7)]
    expected = [counted_seconds(to_us(a), to_us(b), window) // (60 * 10**6) for a, b in cases]
    counter = window.minutes_counter()
    assert counter is not None

    def work(order):
        return [counter(*cases[i]) for i in order]

    orders = [list(range(len(cases))), list(reversed(range(len(cases))))] * 2
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, orders))
    for order, got in zip(orders, results, strict=True):
        assert got == [expected[i] for i in order]
