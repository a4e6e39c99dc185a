"""A site's supply side: its connection, its supply tariff, meter readings and the
resulting cost per kWh for a period (domain.md §4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import Site
from backend.db.models.pricing import MeterReading, SiteSupply
from backend.errors import Conflict, InvalidInput, NotFound
from shared import supply_tariff as st
from shared.money import Money


def _tariffs() -> list[st.SupplyTariff]:
    return st.bundled_tariffs()


def tariff_by_id(tariff_id: str) -> st.SupplyTariff:
    for tariff in _tariffs():
        if tariff.id == tariff_id:
            return tariff
    raise NotFound(f"No supply tariff {tariff_id!r}.")


def set_supply(
    s: Session,
    site: Site,
    *,
    voltage_kv: Decimal,
    contracted_kw: Decimal,
    fuse_a: Decimal | None,
    invoice_form: str,
    today: date,
    tariff_group: str | None = None,
    metering_systems: int = 1,
) -> SiteSupply:
    """Record the connection; the tariff group follows from it (tariff 3.1.1) unless the
    operator chooses another group it qualifies for, within the change rule (3.1.3.1)."""
    try:
        tariff = st.tariff_in_force(_tariffs(), today)
        qualified = st.qualify_group(voltage_kv, contracted_kw, fuse_a)
        form = st.InvoiceForm(invoice_form)
    except st.SupplyTariffError as exc:
        raise InvalidInput(str(exc)) from exc
    except ValueError:
        raise InvalidInput(
            "Unknown invoice form.", errors={"invoice_form": ["paper or einvoice"]}
        ) from None
    group = tariff_group or qualified
    if tariff.group(group).voltage != tariff.group(qualified).voltage:
        raise InvalidInput(
            f"A {tariff.group(qualified).voltage.value}-voltage connection "
            f"cannot be billed in group {group}.",
            errors={"tariff_group": [f"Qualifies for {qualified}."]},
        )
    supply = s.get(SiteSupply, site.id)
    if supply is None:
        supply = SiteSupply(site_id=site.id, group_since=today, tariff_group=group)
        s.add(supply)
    elif supply.tariff_group != group:
        if not st.may_change_group(supply.group_since, today, tariff.valid_from):
            raise Conflict(
                "The tariff group can change once in 12 months, or within 60 "
                "days of a new tariff (tariff 3.1.3.1)."
            )
        supply.tariff_group, supply.group_since = group, today
    supply.tariff_id = tariff.id
    supply.voltage_kv, supply.contracted_kw, supply.fuse_a = voltage_kv, contracted_kw, fuse_a
    supply.invoice_form, supply.metering_systems = form.value, metering_systems
    s.commit()
    return supply


def add_reading(
    s: Session, site: Site, read_on: date, register_kwh: Decimal, user_id: int | None
) -> MeterReading:
    if register_kwh < 0:
        raise InvalidInput(
            "A meter register cannot be negative.", errors={"register_kwh": ["Must be ≥ 0."]}
        )
    before = s.scalar(
        select(MeterReading)
        .where(MeterReading.site_id == site.id, MeterReading.read_on < read_on)
        .order_by(MeterReading.read_on.desc())
        .limit(1)
    )
    after = s.scalar(
        select(MeterReading)
        .where(MeterReading.site_id == site.id, MeterReading.read_on > read_on)
        .order_by(MeterReading.read_on)
        .limit(1)
    )
    if (before and register_kwh < before.register_kwh) or (
        after and register_kwh > after.register_kwh
    ):
        raise InvalidInput(
            "A meter register only counts up: this reading does not fit "
            "between the readings before and after it.",
            errors={"register_kwh": ["Out of order with other readings."]},
        )
    row = MeterReading(
        site_id=site.id, read_on=read_on, register_kwh=register_kwh, entered_by=user_id
    )
    s.add(row)
    try:
        s.commit()
    except IntegrityError as exc:
        s.rollback()
        raise Conflict("There is already a reading for that day.") from exc
    return row


@dataclass(frozen=True)
class SupplyCost:
    invoice: st.SupplyInvoice
    cost_per_kwh_net: Decimal | None
    start_reading: MeterReading
    end_reading: MeterReading


def supply_cost(
    s: Session, site: Site, start: date, end: date, declared_resale_kwh: Decimal | None = None
) -> SupplyCost:
    supply = s.get(SiteSupply, site.id)
    if supply is None:
        raise NotFound("Enter the site's supply connection first.")
    if end <= start:
        raise InvalidInput("The period must end after it starts.", errors={"to": ["After 'from'."]})
    readings = {
        r.read_on: r
        for r in s.scalars(
            select(MeterReading).where(
                MeterReading.site_id == site.id, MeterReading.read_on.in_([start, end])
            )
        )
    }
    missing = [d.isoformat() for d in (start, end) if d not in readings]
    if missing:
        raise InvalidInput(
            "A meter reading is missing for " + " and ".join(missing) + ".",
            errors={"readings": missing},
        )
    metered = readings[end].register_kwh - readings[start].register_kwh
    try:
        invoice = st.supply_invoice(
            # A reading is taken at the start of its day: the period is [start, end).
            tariff_by_id(supply.tariff_id),
            supply.tariff_group,
            metered,
            start,
            end - timedelta(days=1),
            st.InvoiceForm(supply.invoice_form),
            declared_resale_kwh,
            supply.metering_systems,
        )
    except st.SupplyTariffError as exc:
        raise InvalidInput(str(exc)) from exc
    per_kwh = (invoice.net.amount / metered).quantize(Decimal("0.0001")) if metered else None
    return SupplyCost(invoice, per_kwh, readings[start], readings[end])


def money_str(m: Money) -> str:
    return f"{m.amount:.2f}"
