"""What a session is priced from: price versions, driver plans and the charger's
measurements (domain.md §3 and §5, seeds 000 and 001)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from shared.idle import IdleWindow
from shared.money import exponent, to_decimal

KWH = Decimal("0.001")


class PricingError(ValueError):
    """A price or an input that cannot be priced; the message says why."""


class PricingModel(StrEnum):
    FIXED = "fixed"  # company model: one price per kWh per price group
    FIXED_WITH_IDLE = "fixed_with_idle"  # hotel model: per kWh plus a blocking fee
    VARIABLE_COST = "variable_cost"  # co-op model: share of the real cost at period close
    PLATFORM_PLAN = "platform_plan"  # PUB: the driver's plan price applies


def _aware(moment: datetime, name: str) -> None:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise PricingError(f"{name} must be an aware datetime (with its time zone).")


def _price(value: Decimal, name: str) -> None:
    if to_decimal(value) < 0:
        raise PricingError(f"{name} cannot be negative.")


@dataclass(frozen=True)
class PriceVersion:
    """An operator's prices for one site and price group from `effective_from` on."""

    version_id: str
    effective_from: datetime
    model: PricingModel
    currency: str
    vat_rate: Decimal
    energy_per_kwh: Decimal = Decimal(0)
    idle_per_minute: Decimal = Decimal(0)
    idle_window: IdleWindow | None = None
    idle_grace_minutes: int = 0

    def __post_init__(self) -> None:
        _aware(self.effective_from, "effective_from")
        exponent(self.currency)
        _price(self.energy_per_kwh, "energy per kWh")
        _price(self.idle_per_minute, "idle per minute")
        if not Decimal(0) <= to_decimal(self.vat_rate) < 1:
            raise PricingError("A VAT rate is a fraction between 0 and 1 (0.23 for 23 %).")
        if self.idle_grace_minutes < 0:
            raise PricingError("Grace minutes cannot be negative.")
        if self.model != PricingModel.FIXED_WITH_IDLE and self.idle_per_minute:
            raise PricingError("Only the hotel model (fixed_with_idle) has an idle fee.")


@dataclass(frozen=True)
class Plan:
    """A driver's plan (seed 000): the free pay-per-use plan (no monthly fee) or a paid
    subscription; either has its own gross price per kWh at platform-priced stations."""

    code: str
    name: str
    currency: str
    price_per_kwh: Decimal  # gross, at platform-priced (PUB) stations
    monthly_fee: Decimal = Decimal(0)  # gross

    def __post_init__(self) -> None:
        exponent(self.currency)
        _price(self.price_per_kwh, "A plan's price per kWh")
        _price(self.monthly_fee, "A plan's monthly fee")

    @property
    def pay_per_use(self) -> bool:
        return to_decimal(self.monthly_fee) == 0


@dataclass(frozen=True, slots=True)
class Usage:
    """What the charger measured: meter readings in Wh and the session's moments."""

    meter_start_wh: int
    meter_stop_wh: int
    started_at: datetime
    ended_at: datetime
    full_at: datetime | None = None

    def __post_init__(self) -> None:
        for reading in (self.meter_start_wh, self.meter_stop_wh):
            if not isinstance(reading, int) or isinstance(reading, bool):
                raise PricingError("Meter readings are whole Wh (integers).")
        if self.meter_stop_wh < self.meter_start_wh:
            raise PricingError("The meter stop reading is below the start reading.")
        _aware(self.started_at, "started_at")
        _aware(self.ended_at, "ended_at")
        if self.ended_at < self.started_at:
            raise PricingError("The session ends before it starts.")
        if self.full_at is not None:
            _aware(self.full_at, "full_at")
            if self.full_at > self.ended_at:
                raise PricingError("The car cannot be full after it was unplugged.")

    @property
    def energy_wh(self) -> int:
        return self.meter_stop_wh - self.meter_start_wh

    @property
    def energy_kwh(self) -> Decimal:
        """(stop − start) Wh / 1000, to 0.001 kWh (domain.md §5)."""
        return Decimal(self.energy_wh).scaleb(-3)
