"""The cost side of a site: a supplier's tariff for its electricity (domain.md §4, seed 002).

Tariffs are data (shared/data/tariff_*.json), versioned by their validity start, so a
later tariff is loaded without code changes. Prices are net of VAT; VAT is added on an
invoice's net total (tariff 1.8), never per MWh.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from importlib import resources
from typing import Any

from shared.money import (
    Money,
    MoneyError,
    exact_difference,
    exponent,
    line,
    shift,
    to_decimal,
)


class SupplyTariffError(ValueError):
    """An input the tariff does not cover or forbids; the message says why."""


class InvoiceForm(StrEnum):
    PAPER = "paper"
    EINVOICE = "einvoice"


class Voltage(StrEnum):
    LOW = "low"  # ≤ 1 kV (tariff 2.8)
    MEDIUM = "medium"  # > 1 kV and < 110 kV (tariff 2.18)


@dataclass(frozen=True)
class GroupPrices:
    voltage: Voltage
    own_use_per_mwh: Decimal
    resale_per_mwh: Decimal
    fee_paper: Decimal
    fee_einvoice: Decimal

    def fee(self, form: InvoiceForm) -> Decimal:
        return self.fee_paper if form == InvoiceForm.PAPER else self.fee_einvoice


@dataclass(frozen=True)
class SupplyTariff:
    id: str
    name: str
    valid_from: date
    currency: str
    vat_rate: Decimal
    groups: dict[str, GroupPrices]

    def group(self, code: str) -> GroupPrices:
        try:
            return self.groups[code]
        except KeyError:
            raise SupplyTariffError(f"Tariff {self.id} has no group {code!r}.") from None


def parse_tariff(data: dict[str, Any]) -> SupplyTariff:
    """A tariff from its data file's content; a malformed file is refused, saying why."""
    try:
        groups = {
            str(code): GroupPrices(
                voltage=Voltage(g["voltage"]),
                own_use_per_mwh=to_decimal(g["own_use"]),
                resale_per_mwh=to_decimal(g["resale"]),
                fee_paper=to_decimal(g["fee_paper"]),
                fee_einvoice=to_decimal(g["fee_einvoice"]),
            )
            for code, g in data["groups"].items()
        }
        tariff = SupplyTariff(
            id=str(data["id"]),
            name=str(data["name"]),
            valid_from=date.fromisoformat(data["valid_from"]),
            currency=str(data["currency"]),
            vat_rate=to_decimal(data["vat_rate"]),
            groups=groups,
        )
    except (KeyError, TypeError, AttributeError, ValueError, ArithmeticError) as exc:
        name = data.get("id", "?") if isinstance(data, dict) else "?"
        raise SupplyTariffError(f"Tariff data {name!r} is not well formed: {exc!r}.") from None
    try:
        exponent(tariff.currency)
    except MoneyError as exc:
        raise SupplyTariffError(f"Tariff {tariff.id}: {exc}") from None
    if not groups:
        raise SupplyTariffError(f"Tariff {tariff.id} has no tariff groups.")
    if not Decimal(0) <= tariff.vat_rate < 1:
        raise SupplyTariffError(f"Tariff {tariff.id}: the VAT rate is a fraction (0.23).")
    for code, g in groups.items():
        prices = (g.own_use_per_mwh, g.resale_per_mwh, g.fee_paper, g.fee_einvoice)
        if any(p < 0 for p in prices):
            raise SupplyTariffError(f"Tariff {tariff.id}, group {code}: a negative price.")
    return tariff


def bundled_tariffs() -> list[SupplyTariff]:
    """Every tariff shipped as data, oldest first."""
    found = []
    for entry in resources.files("shared.data").iterdir():
        if entry.name.startswith("tariff_") and entry.name.endswith(".json"):
            found.append(parse_tariff(json.loads(entry.read_text(encoding="utf-8"))))
    return sorted(found, key=lambda t: t.valid_from)


def tariff_in_force(tariffs: list[SupplyTariff], on: date) -> SupplyTariff:
    valid = [t for t in tariffs if t.valid_from <= on]
    if not valid:
        raise SupplyTariffError(f"No tariff is in force on {on.isoformat()}.")
    return max(valid, key=lambda t: t.valid_from)


def qualify_group(
    voltage_kv: Decimal | str, contracted_kw: Decimal | str, fuse_a: Decimal | str | None = None
) -> str:
    """Tariff group by supply voltage, contracted power and pre-meter fuse (tariff 3.1.1)."""
    kv, kw = to_decimal(voltage_kv), to_decimal(contracted_kw)
    if kv <= 0 or kw <= 0:
        raise SupplyTariffError("Voltage and contracted power must be positive.")
    if kv >= 110:
        raise SupplyTariffError(
            "Supply at 110 kV or above is outside this tariff (it covers low and medium "
            "voltage only)."
        )
    if kv > 1:
        return "B21em" if kw > 40 else "B11em"
    fuse = to_decimal(fuse_a) if fuse_a is not None else None
    if fuse is not None and fuse <= 0:
        raise SupplyTariffError("The fuse rating must be positive.")
    return "C21em" if kw > 40 or (fuse is not None and fuse > 63) else "C11em"


def months_started(start: date, end: date) -> int:
    """Calendar months touched by [start, end]; each is charged in full (tariff 3.4.2)."""
    if end < start:
        raise SupplyTariffError("The period ends before it starts.")
    return (end.year - start.year) * 12 + end.month - start.month + 1


@dataclass(frozen=True)
class SupplyInvoiceLine:
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Money


@dataclass(frozen=True)
class SupplyInvoice:
    tariff_id: str
    group: str
    lines: tuple[SupplyInvoiceLine, ...]
    net: Money
    vat: Money
    gross: Money
    metered_kwh: Decimal


def supply_invoice(
    tariff: SupplyTariff,
    group: str,
    metered_kwh: Decimal | str,
    period_start: date,
    period_end: date,
    form: InvoiceForm,
    declared_resale_kwh: Decimal | str | None = None,
    metering_systems: int = 1,
) -> SupplyInvoice:
    """What the supplier bills for a period: energy (own use / resale split by the
    declaration, tariff 3.3), the commercial-service fee per started month and metering
    system (3.4), VAT on the net total (1.8)."""
    prices = tariff.group(group)
    metered = to_decimal(metered_kwh)
    if metered < 0:
        raise SupplyTariffError("Metered energy cannot be negative.")
    resale = Decimal(0) if declared_resale_kwh is None else to_decimal(declared_resale_kwh)
    if resale < 0:
        raise SupplyTariffError("Declared resale energy cannot be negative.")
    if resale > metered:
        raise SupplyTariffError(
            f"Declared resale ({resale} kWh) exceeds the metered energy ({metered} kWh); "
            "the declaration is rejected (tariff 3.3.3)."
        )
    if metering_systems < 1:
        raise SupplyTariffError("At least one metering system is billed.")
    cur = tariff.currency
    lines: list[SupplyInvoiceLine] = []
    own_mwh = shift(exact_difference(metered, resale), -3)
    resale_mwh = shift(resale, -3)
    if own_mwh or not resale_mwh:
        lines.append(
            SupplyInvoiceLine(
                "energy, own use",
                own_mwh,
                "MWh",
                prices.own_use_per_mwh,
                line(own_mwh, prices.own_use_per_mwh, cur),
            )
        )
    if resale_mwh:
        lines.append(
            SupplyInvoiceLine(
                "energy, resale",
                resale_mwh,
                "MWh",
                prices.resale_per_mwh,
                line(resale_mwh, prices.resale_per_mwh, cur),
            )
        )
    months = Decimal(months_started(period_start, period_end) * metering_systems)
    fee = prices.fee(form)
    lines.append(
        SupplyInvoiceLine(
            f"commercial service fee ({form.value})", months, "month", fee, line(months, fee, cur)
        )
    )
    net = Money.zero(cur)
    for item in lines:
        net = net + item.amount
    vat = net.times(tariff.vat_rate)
    return SupplyInvoice(tariff.id, group, tuple(lines), net, vat, net + vat, metered)


def may_change_group(last_change: date | None, request_on: date, tariff_valid_from: date) -> bool:
    """Tariff 3.1.3.1: at most once in 12 months, or within 60 days of a new tariff."""
    if 0 <= (request_on - tariff_valid_from).days <= 60:
        return True
    if last_change is None:
        return True
    anniversary = _add_months(last_change, 12)
    return request_on >= anniversary


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    day = min(d.day, _days_in_month(year, month))
    return date(year, month, day)


def _days_in_month(year: int, month: int) -> int:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return (nxt - date(year, month, 1)).days


@dataclass(frozen=True)
class ForecastSettlement:
    """Tariff 3.2.1.2–3: what the forecast payments of a period leave for the next one."""

    carried_to_next: Money  # positive: added to the next invoice; negative: credited
    refund: Money


def settle_forecast(
    paid: Money, actual: Money, refund_requested: bool = False, carried_in: Money | None = None
) -> ForecastSettlement:
    """Settle a period billed on forecasts against its actual charges.

    An underpayment is added to the next invoice; an overpayment is credited to the next
    period unless the customer asks for a refund. `carried_in` is what the previous
    period carried into this one (positive: owed; negative: credit).
    """
    if paid.currency != actual.currency:
        raise MoneyError("Forecast and actual amounts must share a currency.")
    owed = actual if carried_in is None else actual + carried_in
    difference = owed - paid
    if difference.minor < 0 and refund_requested:
        return ForecastSettlement(Money.zero(paid.currency), -difference)
    return ForecastSettlement(difference, Money.zero(paid.currency))
