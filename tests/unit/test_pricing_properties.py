"""Properties of idle billing and session pricing that must hold for every input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time as systime
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal, localcontext
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.idle import IdleWindow, IdleWindowError, billable_idle
from shared.pricing import (
    Plan,
    PriceVersion,
    PricingError,
    PricingModel,
    Usage,
    price_session,
    version_in_force,
)
from shared.vat import from_gross

ZONES = ["Europe/Warsaw", "Europe/Oslo", "America/New_York", "Australia/Lord_Howe", "UTC"]
moments = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
)
whole_minutes = st.builds(time, st.integers(0, 23), st.integers(0, 59))
windows = st.builds(IdleWindow, whole_minutes, whole_minutes, st.sampled_from(ZONES))


def in_window(moment: datetime, w: IdleWindow) -> bool:
    local = moment.astimezone(ZoneInfo(w.timezone)).time().replace(tzinfo=None)
    if w.all_day:
        return True
    if w.start < w.end:
        return w.start <= local < w.end
    return local >= w.start or local < w.end


@settings(max_examples=300, deadline=None)
@given(moments, st.integers(0, 3 * 24 * 60), st.none() | windows, st.integers(0, 30))
def test_billable_idle_is_bounded_and_inside_the_window(full, minutes, window, grace):
    end = full + timedelta(minutes=minutes, seconds=17)
    period = billable_idle(full, end, window, grace)
    assert 0 <= period.billable_minutes * 60 <= period.billable_seconds
    assert period.billable_seconds <= (end - full).total_seconds()
    for lo, hi in period.segments:
        assert full + timedelta(minutes=grace) <= lo < hi <= end
        if window is not None:
            # probe inside each segment: never billed outside the local window
            for probe in (lo, lo + (hi - lo) / 2, hi - timedelta(microseconds=1)):
                assert in_window(probe, window), (probe, window)


@settings(max_examples=200, deadline=None)
@given(moments, st.integers(0, 10 * 24 * 60), windows)
def test_idle_monotonic_in_unplug_time(full, minutes, window):
    a = billable_idle(full, full + timedelta(minutes=minutes), window)
    b = billable_idle(full, full + timedelta(minutes=minutes + 1), window)
    assert a.billable_seconds <= b.billable_seconds <= a.billable_seconds + 60


def test_naive_datetimes_refused():
    with pytest.raises(IdleWindowError):
        billable_idle(datetime(2026, 1, 1), datetime(2026, 1, 2), None)


def version(model=PricingModel.FIXED_WITH_IDLE, price="2.40", idle="0.50", at=None):
    return PriceVersion(
        "v",
        at or datetime(2025, 1, 1, tzinfo=UTC),
        model,
        "PLN",
        Decimal("0.23"),
        energy_per_kwh=Decimal(price),
        idle_per_minute=Decimal(idle) if model == PricingModel.FIXED_WITH_IDLE else Decimal(0),
        idle_window=IdleWindow(time(8), time(22), "Europe/Warsaw"),
    )


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 10**6), moments)
def test_price_is_monotonic_in_energy(a, b, start):
    low, high = sorted((a, b))
    v = version(PricingModel.FIXED)
    end = start + timedelta(hours=1)
    p1 = price_session(Usage(0, low, start, end), v)
    p2 = price_session(Usage(0, high, start, end), v)
    assert p1.gross <= p2.gross
    assert p1.split.net + p1.split.vat == p1.gross


def test_price_does_not_depend_on_machine_time_zone():
    start = datetime(2026, 11, 20, 19, 0, tzinfo=UTC)
    usage = Usage(
        0,
        18_500,
        start,
        start + timedelta(hours=3, minutes=30),
        full_at=start + timedelta(hours=1, minutes=10),
    )
    results = set()
    original = os.environ.get("TZ")
    try:
        for tz in ("UTC", "Asia/Tokyo", "America/Los_Angeles", "Europe/Warsaw"):
            os.environ["TZ"] = tz
            systime.tzset()
            results.add(price_session(usage, version()).gross)
    finally:
        if original is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = original
        systime.tzset()
    assert len(results) == 1


def test_version_in_force_at_session_start():
    old = version(price="2.00", at=datetime(2026, 1, 1, tzinfo=UTC))
    new = version(price="2.50", at=datetime(2026, 11, 20, 12, tzinfo=UTC))
    assert version_in_force([old, new], datetime(2026, 11, 20, 11, 59, tzinfo=UTC)) is old
    assert version_in_force([old, new], datetime(2026, 11, 20, 12, 0, tzinfo=UTC)) is new
    with pytest.raises(PricingError):
        version_in_force([old, new], datetime(2025, 12, 31, tzinfo=UTC))


def test_negative_prices_refused():
    with pytest.raises(PricingError):
        version(price="-1")


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    moments,
    st.integers(0, 48 * 60),
    st.sampled_from([PricingModel.FIXED, PricingModel.FIXED_WITH_IDLE, PricingModel.PLATFORM_PLAN]),
    st.decimals(min_value=0, max_value=5, places=4),
)
def test_price_is_monotonic_in_energy_for_every_model(a, b, start, idle, model, price):
    low, high = sorted((a, b))
    v = version(model, price=str(price))
    plan = Plan("p", "p", "PLN", price) if model == PricingModel.PLATFORM_PLAN else None
    end = start + timedelta(hours=2, minutes=idle)
    full = start + timedelta(hours=2)
    p1 = price_session(Usage(0, low, start, end, full), v, plan)
    p2 = price_session(Usage(0, high, start, end, full), v, plan)
    assert p1.gross <= p2.gross
    assert p2.gross.minor - p1.gross.minor == p2.energy_minor - p1.energy_minor


def test_price_does_not_depend_on_the_decimal_context():
    usage = Usage(
        0,
        18_537,
        datetime(2026, 3, 28, 19, 1, tzinfo=UTC),
        datetime(2026, 3, 29, 7, 0, 31, tzinfo=UTC),
        full_at=datetime(2026, 3, 28, 20, 10, 7, tzinfo=UTC),
    )
    expected = price_session(usage, version(price="2.4567"))
    with localcontext() as ctx:
        ctx.prec, ctx.rounding = 3, ROUND_DOWN
        again = price_session(usage, version(price="2.4567"))
        split = from_gross(again.gross, "0.23")
    assert (again.gross, again.split, again.lines) == (
        expected.gross,
        expected.split,
        expected.lines,
    )
    assert split == expected.split


# Sessions across midnight and both 2026 clock changes, priced in a fresh interpreter
# under several machine time zones: the answers must be identical.
_PRICE_UNDER_TZ = r"""
import json, time
from datetime import UTC, datetime, time as clock, timedelta
from decimal import Decimal
from shared.idle import IdleWindow
from shared.pricing import PriceVersion, PricingModel, Usage, price_session
print(time.timezone, time.strftime("%z", time.localtime(1774746000)))  # the machine's zone
out = []
for zone in ("Europe/Warsaw", "Europe/Oslo"):
    for window in (IdleWindow(clock(8), clock(22), zone), IdleWindow(clock(22), clock(6), zone)):
        v = PriceVersion("v", datetime(2026, 1, 1, tzinfo=UTC), PricingModel.FIXED_WITH_IDLE,
                         "PLN", Decimal("0.23"), energy_per_kwh=Decimal("2.40"),
                         idle_per_minute=Decimal("0.50"), idle_window=window,
                         idle_grace_minutes=7)
        for day in (datetime(2026, 3, 28, 12, tzinfo=UTC), datetime(2026, 10, 24, 12, tzinfo=UTC)):
            for h in range(0, 24, 3):
                start = day + timedelta(hours=h, minutes=13)
                u = Usage(0, 12_345 + h, start, start + timedelta(hours=14, seconds=41),
                          full_at=start + timedelta(hours=1, minutes=2))
                p = price_session(u, v)
                out.append([p.gross.minor, p.split.net.minor, p.idle_minutes,
                            [str(x.amount) for x in p.lines]])
print(json.dumps(out))
"""


def test_price_does_not_depend_on_the_machine_time_zone_subprocess():
    root = Path(__file__).resolve().parents[2]
    answers = {}
    for tz in ("UTC", "Europe/Warsaw", "America/Los_Angeles", "Asia/Kolkata"):
        env = {**os.environ, "TZ": tz, "PYTHONPATH": str(root)}
        done = subprocess.run(  # noqa: S603 (our own interpreter and script)
            [sys.executable, "-c", _PRICE_UNDER_TZ],
            env=env,
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        machine, priced = done.stdout.split("\n", 1)
        answers[machine] = priced
    assert len(answers) == 4  # four different machine zones really were in effect
    assert len(set(answers.values())) == 1, answers
    assert len(json.loads(next(iter(answers.values())))) == 64
