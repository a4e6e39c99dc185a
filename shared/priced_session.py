"""A priced session and its explanation: the document lines (energy kWh × price,
billable idle minutes × price), the inputs, the reasons in words.

A PricedSession keeps the facts it was priced from and its exact amounts; lines, the
VAT split, the idle period and the explanation are derived from them when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import NamedTuple

from shared.idle import US_PER_MINUTE, IdlePeriod, billable_idle, to_us
from shared.money import Money, to_decimal
from shared.pricing_inputs import Plan, PriceVersion, PricingModel, Usage
from shared.vat import VatSplit


@dataclass(frozen=True)
class PriceLine:
    kind: str  # "energy" | "idle"
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Money


class _PricedFields(NamedTuple):
    usage: Usage
    version: PriceVersion
    plan: Plan | None
    energy_minor: int
    idle_minutes: int | None  # billable; None when no idle fee applies to the session
    gross_minor: int
    net_minor: int


class PricedSession(_PricedFields):
    """A priced session: the facts it was priced from and its exact amounts (immutable).

    `lines`, `split`, `idle`, `inputs` and `explain()` are derived from those facts.
    """

    __slots__ = ()

    @property
    def model(self) -> PricingModel:
        return self.version.model

    @property
    def version_id(self) -> str:
        return self.version.version_id

    @property
    def currency(self) -> str:
        return self.version.currency

    @property
    def energy_kwh(self) -> Decimal:
        return self.usage.energy_kwh

    @property
    def energy_price(self) -> Decimal:
        """The gross price per kWh applied: the plan's at a PUB station, else the version's."""
        if self.plan is not None and self.version.model == PricingModel.PLATFORM_PLAN:
            return self.plan.price_per_kwh
        return self.version.energy_per_kwh

    @property
    def idle_minor(self) -> int:
        return self.gross_minor - self.energy_minor

    @property
    def gross(self) -> Money:
        return Money(self.gross_minor, self.currency)

    @property
    def split(self) -> VatSplit:
        cur = self.currency
        net = Money(self.net_minor, cur)
        return VatSplit(
            net, Money(self.gross_minor - self.net_minor, cur), self.gross, self.version.vat_rate
        )

    @property
    def idle(self) -> IdlePeriod | None:
        """The idle period and its billed segments, when the hotel model applies."""
        v, u = self.version, self.usage
        if self.idle_minutes is None or u.full_at is None:
            return None
        full = max(u.full_at, u.started_at)  # full at plug-in: idle from the start
        return billable_idle(full, u.ended_at, v.idle_window, v.idle_grace_minutes)

    @property
    def source(self) -> str:
        """What set the energy price: the driver's plan (PUB) or the operator's version."""
        if self.plan is not None and self.version.model == PricingModel.PLATFORM_PLAN:
            return f"plan {self.plan.code}"
        return f"price version {self.version.version_id}"

    @property
    def lines(self) -> tuple[PriceLine, ...]:
        cur = self.currency
        out = [
            PriceLine(
                "energy",
                f"energy ({self.source})",
                self.energy_kwh,
                "kWh",
                self.energy_price,
                Money(self.energy_minor, cur),
            )
        ]
        if self.idle_minutes is not None and self.version.idle_per_minute:
            out.append(
                PriceLine(
                    "idle",
                    f"idle fee ({self._idle_reason()})",
                    Decimal(self.idle_minutes),
                    "min",
                    self.version.idle_per_minute,
                    Money(self.idle_minor, cur),
                )
            )
        return tuple(out)

    def _idle_reason(self) -> str:
        v, u = self.version, self.usage
        full = u.started_at if u.full_at is None else max(u.full_at, u.started_at)
        idle = (to_us(u.ended_at) - to_us(full)) // US_PER_MINUTE
        window = "any hour" if v.idle_window is None else f"window {v.idle_window.describe()}"
        grace = f", {v.idle_grace_minutes} min grace" if v.idle_grace_minutes else ""
        return f"{self.idle_minutes} of {idle} min after the car was full billable; {window}{grace}"

    @property
    def inputs(self) -> dict[str, str]:
        """Everything the amounts were computed from, as text (UTC instants)."""
        u, v, p = self.usage, self.version, self.plan
        window = v.idle_window

        def utc(moment: datetime | None) -> str:
            return moment.astimezone(UTC).isoformat() if moment is not None else ""

        return {
            "meter_start_wh": str(u.meter_start_wh),
            "meter_stop_wh": str(u.meter_stop_wh),
            "started_at": utc(u.started_at),
            "ended_at": utc(u.ended_at),
            "full_at": utc(u.full_at),
            "price_version": v.version_id,
            "price_version_effective_from": utc(v.effective_from),
            "model": v.model.value,
            "currency": v.currency,
            "vat_rate": str(v.vat_rate),
            "energy_per_kwh": str(self.energy_price),
            "idle_per_minute": str(v.idle_per_minute),
            "idle_window": window.describe() if window is not None else "",
            "idle_grace_minutes": str(v.idle_grace_minutes),
            "plan": p.code if p is not None else "",
            "plan_price_per_kwh": str(p.price_per_kwh) if p is not None else "",
        }

    def explain(self) -> list[str]:
        """The result in words: what was charged and why (receipts, support)."""
        cur = self.currency
        split = self.split
        v = self.version
        text = [
            f"price version {v.version_id} ({v.model.value}), in force from "
            f"{v.effective_from.astimezone(UTC).isoformat()}"
            + (f"; driver's plan {self.plan.code}" if self.plan is not None else ""),
        ]
        for item in self.lines:
            text.append(
                f"{item.description}: {item.quantity} {item.unit} × {item.unit_price} "
                f"{cur}/{item.unit} = {item.amount}"
            )
        text.append(
            f"total {self.gross} gross = {split.net} net + {split.vat} VAT "
            f"({(to_decimal(self.version.vat_rate) * 100).normalize():f} %)"
        )
        return text
