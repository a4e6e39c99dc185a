"""The simulated car's battery and power curve (CC/CV-like), in integer energy."""

from __future__ import annotations

import pytest

from ocpp_bridge.simulator.curve import WS_PER_WH, Battery, PowerCurve, charge


def test_full_power_below_the_taper_point() -> None:
    curve = PowerCurve(max_power_w=11_000, taper_from_percent=80)
    battery = Battery.at_percent(60_000, 20)
    step = charge(curve, battery, 3600)
    assert step.energy_ws == 11_000 * 3600  # one hour at 11 kW = 11 kWh exactly
    assert (step.power_w, step.full) == (11_000, False)
    assert battery.soc_percent == 38  # 12 kWh + 11 kWh of 60 kWh


def test_power_falls_linearly_above_the_taper_point() -> None:
    curve = PowerCurve(max_power_w=10_000, taper_from_percent=80)
    capacity = 50_000 * WS_PER_WH
    assert curve.power_w(capacity * 80 // 100, capacity) == 10_000
    assert curve.power_w(capacity * 90 // 100, capacity) == 5_000
    assert curve.power_w(capacity * 95 // 100, capacity) == 2_500
    assert curve.power_w(capacity, capacity) == 0


def test_power_never_rises_and_the_car_ends_full_with_energy_conserved() -> None:
    curve = PowerCurve(max_power_w=22_000, taper_from_percent=80)
    battery = Battery.at_percent(40_000, 50)
    before = battery.stored_ws
    powers, delivered = [], 0
    for _ in range(10 * 60):  # up to ten hours, minute by minute
        step = charge(curve, battery, 60)
        delivered += step.energy_ws
        powers.append(step.power_w)
        if step.full:
            break
    assert step.full and battery.soc_percent >= 99
    assert powers == sorted(powers, reverse=True)
    assert battery.stored_ws - before == delivered
    assert battery.stored_ws <= battery.capacity_ws


def test_cutoff_decides_when_the_car_is_full() -> None:
    curve = PowerCurve(max_power_w=10_000, taper_from_percent=80, cutoff_power_w=2_000)
    capacity = 50_000 * WS_PER_WH
    assert curve.cutoff_w == 2_000
    assert curve.power_w(capacity * 97 // 100, capacity) == 0  # 1.5 kW < cutoff: done
    assert PowerCurve(max_power_w=3_000).cutoff_w == 100  # default: 2 %, at least 100 W


def test_no_taper_means_constant_power_until_full() -> None:
    curve = PowerCurve(max_power_w=7_000, taper_from_percent=100)
    battery = Battery.at_percent(10_000, 50)
    step = charge(curve, battery, 4 * 3600)
    assert step.energy_ws == 5_000 * WS_PER_WH and step.full
    assert battery.soc_percent == 100


def test_a_charger_limit_caps_the_power_without_making_the_car_full() -> None:
    battery = Battery.at_percent(60_000, 20)
    step = charge(PowerCurve(max_power_w=11_000), battery, 60, limit_w=3_700)
    assert (step.energy_ws, step.power_w) == (3_700 * 60, 3_700)
    assert not charge(PowerCurve(), battery, 60, limit_w=0).full


@pytest.mark.parametrize(
    "kwargs", [{"max_power_w": 0}, {"taper_from_percent": 101}, {"taper_from_percent": -1}]
)
def test_invalid_curves_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        PowerCurve(**kwargs)


def test_invalid_state_of_charge_is_refused() -> None:
    with pytest.raises(ValueError):
        Battery.at_percent(60_000, 120)
