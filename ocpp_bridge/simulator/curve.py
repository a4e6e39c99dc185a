"""The car's side of a session: a battery and the power it accepts.

Energy is kept in integer watt-seconds so a register in Wh is exact integer division
and nothing drifts with floats. The curve is CC/CV-like: full power until the battery
reaches `taper_from_percent`, then power falls linearly towards zero at 100 %; the car
stops drawing (it is "full") once the power it would accept drops below
`cutoff_power_w`.
"""

from __future__ import annotations

from dataclasses import dataclass

WS_PER_WH = 3600


@dataclass(frozen=True)
class PowerCurve:
    max_power_w: int = 11_000
    taper_from_percent: int = 80
    cutoff_power_w: int = 0  # 0: 2 % of max_power_w, at least 100 W

    def __post_init__(self) -> None:
        if self.max_power_w <= 0:
            raise ValueError("max_power_w must be positive")
        if not 0 <= self.taper_from_percent <= 100:
            raise ValueError("taper_from_percent must be within 0..100")

    @property
    def cutoff_w(self) -> int:
        return self.cutoff_power_w or max(100, self.max_power_w // 50)

    def power_w(self, stored_ws: int, capacity_ws: int) -> int:
        """Power the car accepts at this state of charge (0 once full)."""
        if stored_ws >= capacity_ws:
            return 0
        taper_ws = capacity_ws * self.taper_from_percent // 100
        if stored_ws < taper_ws or taper_ws >= capacity_ws:
            power = self.max_power_w
        else:
            power = self.max_power_w * (capacity_ws - stored_ws) // (capacity_ws - taper_ws)
        return power if power >= self.cutoff_w else 0


@dataclass
class Battery:
    capacity_wh: int = 60_000
    stored_ws: int = 0

    @classmethod
    def at_percent(cls, capacity_wh: int, soc_percent: int) -> Battery:
        if not 0 <= soc_percent <= 100:
            raise ValueError("soc_percent must be within 0..100")
        return cls(capacity_wh, capacity_wh * WS_PER_WH * soc_percent // 100)

    @property
    def capacity_ws(self) -> int:
        return self.capacity_wh * WS_PER_WH

    @property
    def soc_percent(self) -> int:
        return min(100, self.stored_ws * 100 // self.capacity_ws)


@dataclass(frozen=True)
class Step:
    energy_ws: int  # delivered during the step
    power_w: int  # accepted at the end of the step
    full: bool


def charge(curve: PowerCurve, battery: Battery, seconds: int, limit_w: int | None = None) -> Step:
    """Charge `battery` for `seconds` along `curve` (in one-second steps, so the taper is
    followed closely); `limit_w` caps the power the charger offers."""
    delivered = 0
    for _ in range(max(0, seconds)):
        power = curve.power_w(battery.stored_ws, battery.capacity_ws)
        if limit_w is not None:
            power = min(power, limit_w)
        if power <= 0:
            break
        power = min(power, battery.capacity_ws - battery.stored_ws)
        battery.stored_ws += power
        delivered += power
    accepted = curve.power_w(battery.stored_ws, battery.capacity_ws)
    offered = accepted if limit_w is None else min(accepted, max(0, limit_w))
    return Step(delivered, offered, accepted <= 0)
