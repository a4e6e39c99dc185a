"""Pricing a charging session: the three models of seed 001 plus platform plans (seed 000).

Driver prices are gross (VAT included, domain.md §5). A session is priced with the
price version in force when it started; every result carries its lines and inputs so a
receipt or a support agent can show why the driver paid what they paid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from shared.idle import IdlePeriod, IdleWindow, billable_idle
from shared.money import Money, MoneyError, line, to_decimal
from shared.vat import VatSplit, from_gross

KWH = Decimal("0.001")


class PricingError(ValueError):
    """A price or an input that cannot be priced; the message says why."""


class PricingModel(StrEnum):
    FIXED = "fixed"  # company model: one price per kWh per price group
    FIXED_WITH_IDLE = "fixed_with_idle"  # hotel model: per kWh plus a blocking fee
    VARIABLE_COST = "variable_cost"  # co-op model: share of the real cost at period close
    PLATFORM_PLAN = "platform_plan"  # PUB: the driver's plan price applies


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
        if self.effective_from.tzinfo is None:
            raise PricingError("effective_from must be an aware datetime.")
        for name in ("energy_per_kwh", "idle_per_minute", "vat_rate"):
            value = to_decimal(getattr(self, name))
            if value < 0:
                raise PricingError(f"{name.replace('_', ' ')} cannot be negative.")
        if self.idle_grace_minutes < 0:
            raise PricingError("Grace minutes cannot be negative.")
        if self.model != PricingModel.FIXED_WITH_IDLE and self.idle_per_minute:
            raise PricingError("Only the hotel model (fixed_with_idle) has an idle fee.")


@dataclass(frozen=True)
class Plan:
    """A driver's plan (seed 000): pay-per-use (no fee) or a paid subscription."""

    code: str
    name: str
    currency: str
    price_per_kwh: Decimal  # gross, at platform-priced (PUB) stations
    monthly_fee: Decimal = Decimal(0)  # gross


@dataclass(frozen=True)
class Usage:
    """What the charger measured: meter readings in Wh and the session's moments."""

    meter_start_wh: int
    meter_stop_wh: int
    started_at: datetime
    ended_at: datetime
    full_at: datetime | None = None

    @property
    def energy_kwh(self) -> Decimal:
        """(stop − start) Wh / 1000, to 0.001 kWh (domain.md §5)."""
        if self.meter_stop_wh < self.meter_start_wh:
            raise PricingError("The meter stop reading is below the start reading.")
        return (Decimal(self.meter_stop_wh - self.meter_start_wh) / 1000).quantize(KWH)


@dataclass(frozen=True)
class PriceLine:
    kind: str  # "energy" | "idle"
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Money


@dataclass(frozen=True)
class PricedSession:
    lines: tuple[PriceLine, ...]
    gross: Money
    split: VatSplit
    model: PricingModel
    version_id: str
    energy_kwh: Decimal
    idle: IdlePeriod | None
    inputs: dict[str, str] = field(default_factory=dict)


def version_in_force(versions: list[PriceVersion], at: datetime) -> PriceVersion:
    """The version whose effective_from is the latest not after `at`."""
    moment = at.astimezone(UTC)
    valid = [v for v in versions if v.effective_from <= moment]
    if not valid:
        raise PricingError(f"No price is in force at {moment.isoformat()}.")
    return max(valid, key=lambda v: v.effective_from)


def price_session(usage: Usage, version: PriceVersion, plan: Plan | None = None) -> PricedSession:
    """Price one finished (or running, with ended_at = now) session."""
    if usage.ended_at < usage.started_at:
        raise PricingError("The session ends before it starts.")
    kwh = usage.energy_kwh
    cur = version.currency
    if version.model == PricingModel.VARIABLE_COST:
        raise PricingError(
            "Variable-cost sessions are priced at period close "
            "(see shared.settlement.variable_cost_shares)."
        )
    if version.model == PricingModel.PLATFORM_PLAN:
        if plan is None:
            raise PricingError("A platform-priced station needs the driver's plan.")
        if plan.currency != cur:
            raise MoneyError(f"Plan in {plan.currency} cannot price a {cur} station.")
        unit, source = plan.price_per_kwh, f"plan {plan.code}"
    else:
        unit, source = version.energy_per_kwh, f"price version {version.version_id}"
    lines = [PriceLine("energy", f"energy ({source})", kwh, "kWh", unit, line(kwh, unit, cur))]
    idle = None
    if version.model == PricingModel.FIXED_WITH_IDLE and usage.full_at is not None:
        idle = billable_idle(
            max(usage.full_at, usage.started_at),
            usage.ended_at,
            version.idle_window,
            version.idle_grace_minutes,
        )
        if version.idle_per_minute and idle.billable_minutes:
            minutes = Decimal(idle.billable_minutes)
            lines.append(
                PriceLine(
                    "idle",
                    "idle fee",
                    minutes,
                    "min",
                    version.idle_per_minute,
                    line(minutes, version.idle_per_minute, cur),
                )
            )
    gross = Money.zero(cur)
    for item in lines:
        gross = gross + item.amount
    inputs = {
        "meter_start_wh": str(usage.meter_start_wh),
        "meter_stop_wh": str(usage.meter_stop_wh),
        "started_at": usage.started_at.astimezone(UTC).isoformat(),
        "ended_at": usage.ended_at.astimezone(UTC).isoformat(),
        "full_at": usage.full_at.astimezone(UTC).isoformat() if usage.full_at else "",
        "price_version": version.version_id,
        "plan": plan.code if plan else "",
    }
    return PricedSession(
        tuple(lines),
        gross,
        from_gross(gross, version.vat_rate),
        version.model,
        version.version_id,
        kwh,
        idle,
        inputs,
    )
