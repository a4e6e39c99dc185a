"""Every priced result carries its explanation: lines (energy kWh × price, billable idle
minutes × price), the price version, the plan, the inputs; the version in force at the
session's start prices it; plans price PUB stations (seed 000)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.idle import IdleWindow
from shared.money import Money, MoneyError, line
from shared.pricing import (
    Plan,
    PriceHistory,
    PriceVersion,
    PricingError,
    PricingModel,
    Usage,
    price_session,
    price_sessions,
)
from shared.vat import from_gross

WAW = ZoneInfo("Europe/Warsaw")
VAT = Decimal("0.23")
PAY_PER_USE = Plan("pay-per-use", "Pay per use", "PLN", Decimal("2.69"))
SUBSCRIPTION = Plan("plus", "Plus", "PLN", Decimal("1.99"), monthly_fee=Decimal("49.00"))


def version(model=PricingModel.FIXED, vid="v1", **kw) -> PriceVersion:
    return PriceVersion(
        vid, kw.pop("at", datetime(2026, 1, 1, tzinfo=UTC)), model, "PLN", VAT, **kw
    )


HOTEL = version(
    PricingModel.FIXED_WITH_IDLE,
    "hotel-v1",
    energy_per_kwh=Decimal("2.40"),
    idle_per_minute=Decimal("0.50"),
    idle_window=IdleWindow(time(8), time(22), "Europe/Warsaw"),
)


def hotel_session() -> Usage:
    return Usage(
        1_000_000,
        1_018_500,
        datetime(2026, 11, 20, 20, tzinfo=WAW),
        datetime(2026, 11, 20, 23, 30, tzinfo=WAW),
        full_at=datetime(2026, 11, 20, 21, 10, tzinfo=WAW),
    )


def test_hotel_receipt_explains_itself():
    priced = price_session(hotel_session(), HOTEL)
    energy, idle = priced.lines
    assert (energy.kind, energy.quantity, energy.unit, energy.unit_price, energy.amount) == (
        "energy",
        Decimal("18.500"),
        "kWh",
        Decimal("2.40"),
        Money.of("44.40", "PLN"),
    )
    assert (idle.kind, idle.quantity, idle.unit, idle.unit_price, idle.amount) == (
        "idle",
        Decimal(50),
        "min",
        Decimal("0.50"),
        Money.of("25.00", "PLN"),
    )
    assert "50 of 140 min" in idle.description and "08:00–22:00 Europe/Warsaw" in idle.description
    assert priced.version_id == "hotel-v1" and priced.model == PricingModel.FIXED_WITH_IDLE
    assert priced.inputs == {
        "meter_start_wh": "1000000",
        "meter_stop_wh": "1018500",
        "started_at": "2026-11-20T19:00:00+00:00",
        "ended_at": "2026-11-20T22:30:00+00:00",
        "full_at": "2026-11-20T20:10:00+00:00",
        "price_version": "hotel-v1",
        "price_version_effective_from": "2026-01-01T00:00:00+00:00",
        "model": "fixed_with_idle",
        "currency": "PLN",
        "vat_rate": "0.23",
        "energy_per_kwh": "2.40",
        "idle_per_minute": "0.50",
        "idle_window": "08:00–22:00 Europe/Warsaw",
        "idle_grace_minutes": "0",
        "plan": "",
        "plan_price_per_kwh": "",
    }
    assert priced.explain() == [
        "price version hotel-v1 (fixed_with_idle), in force from 2026-01-01T00:00:00+00:00",
        "energy (price version hotel-v1): 18.500 kWh × 2.40 PLN/kWh = 44.40 PLN",
        "idle fee (50 of 140 min after the car was full billable; window 08:00–22:00 "
        "Europe/Warsaw): 50 min × 0.50 PLN/min = 25.00 PLN",
        "total 69.40 PLN gross = 56.42 PLN net + 12.98 PLN VAT (23 %)",
    ]


def test_idle_outside_the_window_shows_a_zero_line_saying_why():
    usage = Usage(
        0,
        10_000,
        datetime(2026, 11, 20, 21, tzinfo=WAW),
        datetime(2026, 11, 21, 7, tzinfo=WAW),
        full_at=datetime(2026, 11, 20, 22, 5, tzinfo=WAW),
    )
    priced = price_session(usage, HOTEL)
    assert priced.idle is not None and priced.idle.billable_minutes == 0
    assert [(x.kind, x.amount.minor) for x in priced.lines] == [("energy", 2400), ("idle", 0)]
    assert "0 of 535 min" in priced.lines[1].description


def test_pub_station_priced_at_the_drivers_plan():
    pub = version(PricingModel.PLATFORM_PLAN, "pub-v3")
    usage = Usage(
        0, 30_000, datetime(2026, 11, 20, 10, tzinfo=UTC), datetime(2026, 11, 20, 11, tzinfo=UTC)
    )
    free, paid = price_session(usage, pub, PAY_PER_USE), price_session(usage, pub, SUBSCRIPTION)
    assert (free.gross, paid.gross) == (Money.of("80.70", "PLN"), Money.of("59.70", "PLN"))
    assert free.lines[0].description == "energy (plan pay-per-use)"
    assert free.lines[0].unit_price == Decimal("2.69")
    assert (paid.inputs["plan"], paid.inputs["plan_price_per_kwh"]) == ("plus", "1.99")
    assert paid.version_id == "pub-v3" and paid.plan is SUBSCRIPTION
    assert paid.explain()[:2] == [
        "price version pub-v3 (platform_plan), in force from 2026-01-01T00:00:00+00:00; "
        "driver's plan plus",
        "energy (plan plus): 30.000 kWh × 1.99 PLN/kWh = 59.70 PLN",
    ]
    assert PAY_PER_USE.pay_per_use and not SUBSCRIPTION.pay_per_use
    with pytest.raises(PricingError, match="plan"):
        price_session(usage, pub)
    with pytest.raises(MoneyError):
        price_session(usage, pub, Plan("nok", "NOK plan", "NOK", Decimal("3.00")))


def test_operator_price_ignores_a_plan():
    usage = Usage(0, 10_000, datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 1, 1, tzinfo=UTC))
    priced = price_session(usage, version(energy_per_kwh=Decimal("1.50")), SUBSCRIPTION)
    assert priced.gross == Money.of("15.00", "PLN")
    assert priced.lines[0].description == "energy (price version v1)"


def test_variable_cost_is_priced_at_period_close_only():
    usage = Usage(0, 10_000, datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 1, 1, tzinfo=UTC))
    with pytest.raises(PricingError, match="period close"):
        price_session(usage, version(PricingModel.VARIABLE_COST))


def test_session_priced_with_the_version_in_force_at_its_start():
    old = version(vid="r1", energy_per_kwh=Decimal("2.00"))
    new = version(
        vid="r2", energy_per_kwh=Decimal("2.50"), at=datetime(2026, 11, 20, 12, tzinfo=UTC)
    )
    history = PriceHistory([new, old])
    # started before the change, ended after it: the old price
    usage = Usage(
        0,
        10_000,
        datetime(2026, 11, 20, 11, 30, tzinfo=UTC),
        datetime(2026, 11, 20, 12, 30, tzinfo=UTC),
    )
    priced = history.price(usage)
    assert (priced.version_id, priced.gross) == ("r1", Money.of("20.00", "PLN"))
    assert history.in_force(datetime(2026, 11, 20, 13, tzinfo=WAW)) is new  # 12:00 UTC
    assert history.in_force(datetime(2026, 11, 20, 12, 59, tzinfo=WAW)) is old
    with pytest.raises(PricingError, match="not yet in force"):
        price_session(usage, new)
    with pytest.raises(PricingError, match="No price"):
        history.in_force(datetime(2025, 12, 31, tzinfo=UTC))
    with pytest.raises(PricingError, match="same moment"):
        PriceHistory([old, version(vid="dup")])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"meter_start_wh": 10, "meter_stop_wh": 5}, "below the start"),
        ({"meter_stop_wh": 5.0}, "whole Wh"),
        ({"started_at": datetime(2026, 1, 1, 12)}, "aware"),
        ({"ended_at": datetime(2026, 1, 1, 11, tzinfo=UTC)}, "ends before it starts"),
        ({"full_at": datetime(2026, 1, 1, 14, tzinfo=UTC)}, "after it was unplugged"),
    ],
)
def test_impossible_measurements_refused(kwargs, message):
    fields = {
        "meter_start_wh": 0,
        "meter_stop_wh": 1000,
        "started_at": datetime(2026, 1, 1, 12, tzinfo=UTC),
        "ended_at": datetime(2026, 1, 1, 13, tzinfo=UTC),
        **kwargs,
    }
    with pytest.raises(PricingError, match=message):
        Usage(**fields)


def test_impossible_prices_refused():
    with pytest.raises(PricingError):
        version(energy_per_kwh=Decimal("-0.01"))
    with pytest.raises(PricingError):
        version(idle_per_minute=Decimal("0.50"))  # only the hotel model has an idle fee
    with pytest.raises(MoneyError):
        version(energy_per_kwh=0.5)
    with pytest.raises(PricingError):
        Plan("x", "x", "PLN", Decimal("-1"))


# --- properties over any session ------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2026, 1, 2), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
prices = st.decimals(min_value=0, max_value=10, places=4)
clock = st.builds(time, st.integers(0, 23), st.sampled_from([0, 30]))
windows = st.none() | st.builds(
    IdleWindow, clock, clock, st.sampled_from(["Europe/Warsaw", "Europe/Oslo"])
)


@st.composite
def sessions(draw):
    model = draw(st.sampled_from([m for m in PricingModel if m != PricingModel.VARIABLE_COST]))
    idle = model == PricingModel.FIXED_WITH_IDLE
    v = version(
        model,
        energy_per_kwh=draw(prices),
        idle_per_minute=draw(prices) if idle else Decimal(0),
        idle_window=draw(windows) if idle else None,
        idle_grace_minutes=draw(st.integers(0, 30)) if idle else 0,
    )
    plan = Plan("p", "p", "PLN", draw(prices)) if model == PricingModel.PLATFORM_PLAN else None
    start = draw(moments)
    end = start + timedelta(seconds=draw(st.integers(0, 4 * 86_400)))
    span = int((end - start).total_seconds())
    full = draw(st.none() | st.integers(0, span).map(lambda s: start + timedelta(seconds=s)))
    meter = draw(st.integers(0, 10**9))
    usage = Usage(meter, meter + draw(st.integers(0, 200_000)), start, end, full)
    return usage, v, plan


@settings(max_examples=300, deadline=None)
@given(sessions())
def test_every_result_carries_lines_that_add_up(case):
    usage, v, plan = case
    priced = price_session(usage, v, plan)
    cur = v.currency
    energy = priced.lines[0]
    unit = plan.price_per_kwh if plan is not None else v.energy_per_kwh
    assert (energy.kind, energy.quantity, energy.unit_price) == ("energy", usage.energy_kwh, unit)
    assert energy.amount == line(usage.energy_kwh, unit, cur)
    idle_lines = [x for x in priced.lines if x.kind == "idle"]
    if priced.idle is not None and v.idle_per_minute:
        (idle,) = idle_lines
        assert idle.quantity == priced.idle.billable_minutes == priced.idle_minutes
        assert idle.amount == line(idle.quantity, v.idle_per_minute, cur)
    else:
        assert idle_lines == []
    if priced.idle_minutes is not None:  # never more than the car was plugged in
        assert priced.idle_minutes * 60 <= (usage.ended_at - usage.started_at).total_seconds()
    assert sum(x.amount.minor for x in priced.lines) == priced.gross.minor
    assert priced.split.net + priced.split.vat == priced.gross
    assert priced.split == from_gross(priced.gross, v.vat_rate)  # the receipt's own split
    assert priced.version_id == v.version_id == priced.inputs["price_version"]
    assert priced.inputs["meter_stop_wh"] == str(usage.meter_stop_wh)
    assert priced.inputs["plan"] == (plan.code if plan else "")
    assert len(priced.explain()) == len(priced.lines) + 2


@settings(max_examples=50, deadline=None)
@given(st.lists(sessions(), min_size=1, max_size=20))
def test_pricing_many_at_once_is_pricing_each(cases):
    histories = [PriceHistory([v]) for _, v, _ in cases]
    many = price_sessions([(h, u, p) for h, (u, _, p) in zip(histories, cases, strict=True)])
    assert many == [price_session(u, v, p) for u, v, p in cases]
    assert [h.versions for h in histories] == [(v,) for _, v, _ in cases]
