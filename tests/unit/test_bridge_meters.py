"""Meter rules of charging sessions, without a database: energy across register resets,
units, the charger's clock, a 0 start placeholder, car full by power or status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from backend.db.models import ChargingSession
from backend.services.session_meters import (
    SampleIn,
    SessionRules,
    apply_readings,
    apply_status,
    energy_wh,
    normalise,
    plausible_from_zero,
    readings_of,
    start_meter,
    trusted_time,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
RULES = SessionRules()


def test_energy_is_stop_minus_start_when_the_register_only_climbs() -> None:
    assert energy_wh(1_000_000, [1_005_000, 1_012_000], 1_018_500) == 18_500


def test_energy_keeps_counting_across_a_register_reset() -> None:
    # 10,000 Wh delivered, the meter resets to 0, then 3,000 Wh more.
    assert energy_wh(50_000, [55_000, 60_000, 1_000, 2_000], 3_000) == 13_000


def test_a_stop_reading_below_the_last_one_is_a_reset_not_a_refund() -> None:
    assert energy_wh(50_000, [60_000], 500) == 10_500


def test_a_single_dip_that_climbs_back_is_a_glitch_and_ignored() -> None:
    assert energy_wh(1_000, [0, 1_010], 1_020) == 20


def test_no_readings_at_all_is_no_energy() -> None:
    assert energy_wh(None, [], None) == 0


@given(
    st.integers(min_value=0, max_value=10**9),
    st.lists(st.integers(min_value=0, max_value=10**9), max_size=30),
    st.integers(min_value=0, max_value=10**9),
)
def test_energy_is_never_negative(start: int, readings: list[int], stop: int) -> None:
    assert energy_wh(start, readings, stop) >= 0


@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=2, max_size=30))
def test_a_climbing_register_gives_exactly_last_minus_first(steps: list[int]) -> None:
    climbing = [sum(steps[: i + 1]) for i in range(len(steps))]
    assert energy_wh(climbing[0], climbing[1:-1], climbing[-1]) == climbing[-1] - climbing[0]


def test_units_are_normalised_to_wh_and_w_exactly() -> None:
    assert normalise(SampleIn(None, "18.5", unit="kWh")) == (Decimal("18500.0"), "Wh")
    assert normalise(SampleIn(None, "7.36", unit="kW", measurand="Power.Active.Import")) == (
        Decimal("7360.00"),
        "W",
    )
    # 2.0.1 multiplier: 1.85 × 10^4 Wh
    assert normalise(SampleIn(None, "1.85", unit="Wh", multiplier=4)) == (Decimal("18500"), "Wh")
    assert normalise(SampleIn(None, "not a number")) is None
    assert normalise(SampleIn(None, "NaN")) is None


def test_a_clock_from_1970_or_the_future_is_replaced_by_the_receive_time() -> None:
    assert trusted_time("2026-11-20T11:59:00Z", NOW, RULES) == (
        datetime(2026, 11, 20, 11, 59, tzinfo=UTC),
        False,
    )
    assert trusted_time("1970-01-01T00:00:10Z", NOW, RULES) == (NOW, True)
    assert trusted_time("2027-01-01T00:00:00Z", NOW, RULES) == (NOW, True)
    assert trusted_time("yesterday", NOW, RULES) == (NOW, True)
    assert trusted_time(None, NOW, RULES) == (NOW, True)
    # a little ahead (clocks drift) is believed
    assert trusted_time("2026-11-20T12:02:00+00:00", NOW, RULES)[1] is False


def test_a_zero_start_stays_unconfirmed_and_a_missing_one_unknown() -> None:
    assert start_meter(0) == (0, "zero")
    assert start_meter(None) == (None, "missing")
    assert start_meter(1_000_000) == (1_000_000, "charger")


def test_a_reading_is_plausible_from_zero_only_within_the_connectors_power() -> None:
    later = NOW + timedelta(hours=1)
    assert plausible_from_zero(22_000, NOW, later, 22_000, RULES)
    assert not plausible_from_zero(1_000_000, NOW, later, 22_000, RULES)
    assert plausible_from_zero(500, NOW, NOW, 22_000, RULES)  # the slack


def _session(**kw: object) -> ChargingSession:
    values: dict[str, object] = {
        "started_at": NOW,
        "meter_start_wh": 0,
        "meter_start_source": "zero",
        "charging_seen": False,
        "low_power_count": 0,
    }
    return ChargingSession(**(values | kw))


def _rows(*samples: tuple[int, str, str, str]) -> list[dict[str, object]]:
    return [
        {
            "timestamp": NOW + timedelta(minutes=minute),
            "measurand": measurand,
            "phase": phase,
            "location": "Outlet",
            "unit": "Wh" if measurand.startswith("Energy") else "W",
            "value": Decimal(value),
        }
        for minute, measurand, phase, value in samples
    ]


def test_a_placeholder_zero_start_takes_the_first_register_reading() -> None:
    session = _session()
    rows = _rows((1, "Energy.Active.Import.Register", "", "1000000"))
    apply_readings(session, readings_of(rows), RULES, max_power_w=22_000)
    assert (session.meter_start_wh, session.meter_start_source) == (1_000_000, "first_sample")


def test_a_real_zero_start_is_kept() -> None:
    session = _session()
    rows = _rows((10, "Energy.Active.Import.Register", "", "3600"))
    apply_readings(session, readings_of(rows), RULES, max_power_w=22_000)
    assert (session.meter_start_wh, session.meter_start_source) == (0, "charger")


def test_car_full_when_power_stays_below_the_threshold_after_charging() -> None:
    session = _session(meter_start_wh=1, meter_start_source="charger")
    rows = _rows(
        (1, "Power.Active.Import", "", "7000"),
        (2, "Power.Active.Import", "", "40"),
        (3, "Power.Active.Import", "", "0"),
    )
    apply_readings(session, readings_of(rows), RULES)
    assert session.car_full_at == NOW + timedelta(minutes=2)  # the first low sample


def test_one_low_sample_is_not_yet_car_full_and_charging_again_clears_it() -> None:
    session = _session(meter_start_wh=1, meter_start_source="charger")
    apply_readings(
        session,
        readings_of(
            _rows((1, "Power.Active.Import", "", "7000"), (2, "Power.Active.Import", "", "50"))
        ),
        RULES,
    )
    assert session.car_full_at is None
    apply_readings(session, readings_of(_rows((3, "Power.Active.Import", "", "20"))), RULES)
    assert session.car_full_at == NOW + timedelta(minutes=2)
    apply_readings(session, readings_of(_rows((4, "Power.Active.Import", "", "6000"))), RULES)
    assert session.car_full_at is None


def test_low_power_before_any_charging_is_not_car_full() -> None:
    session = _session(meter_start_wh=1, meter_start_source="charger")
    rows = _rows(*[(m, "Power.Active.Import", "", "0") for m in range(1, 5)])
    apply_readings(session, readings_of(rows), RULES)
    assert session.car_full_at is None


def test_per_phase_powers_add_up_when_no_total_is_sent() -> None:
    rows = _rows(
        (1, "Power.Active.Import", "L1", "2300"),
        (1, "Power.Active.Import", "L2", "2300"),
        (1, "Power.Active.Import", "L3", "2300"),
    )
    [reading] = readings_of(rows)
    assert reading.power_w == Decimal(6900)


def test_suspended_ev_after_charging_is_car_full_and_available_is_unplugged() -> None:
    session = _session()
    apply_status(session, "SuspendedEV", NOW)  # never charged: the car is just not ready
    assert session.car_full_at is None
    apply_status(session, "Charging", NOW + timedelta(minutes=1))
    apply_status(session, "SuspendedEV", NOW + timedelta(minutes=70))
    assert session.car_full_at == NOW + timedelta(minutes=70)
    apply_status(session, "Available", NOW + timedelta(minutes=200))
    assert session.unplugged_at == NOW + timedelta(minutes=200)


def test_a_late_reading_from_before_car_full_does_not_clear_it() -> None:
    # SuspendedEV overtook the charger's queued meter values: the power samples taken
    # before that moment arrive afterwards and must not restart the charging.
    session = _session(meter_start_wh=1, meter_start_source="charger")
    apply_status(session, "Charging", NOW)
    apply_status(session, "SuspendedEV", NOW + timedelta(minutes=70))
    late = _rows((60, "Power.Active.Import", "", "7000"), (69, "Power.Active.Import", "", "6500"))
    apply_readings(session, readings_of(late), RULES)
    apply_status(session, "Charging", NOW + timedelta(minutes=65))
    assert session.car_full_at == NOW + timedelta(minutes=70)
    # Charging that really comes later still clears it.
    apply_readings(session, readings_of(_rows((75, "Power.Active.Import", "", "7000"))), RULES)
    assert session.car_full_at is None
