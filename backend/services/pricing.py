"""Use cases of operator pricing: set and change prices per site and price group, with
history; look up the version in force; turn rows into the pure domain's PriceVersion."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.models import OperatorContract, PriceGroup, Site
from backend.db.models.enums import BillingMode
from backend.db.models.pricing import PriceVersion as PriceRow
from backend.errors import InvalidInput, NotFound
from backend.services.visibility import valid_id
from shared import pricing
from shared.idle import IdleWindow, IdleWindowError


@dataclass(frozen=True)
class PriceChange:
    price_group_id: int
    model: str
    energy_per_kwh: Decimal
    idle_per_minute: Decimal = Decimal(0)
    idle_window_start: str | None = None
    idle_window_end: str | None = None
    idle_grace_minutes: int = 0
    billing_mode: str | None = None
    effective_from: datetime | None = None
    currency: str | None = None


def _hhmm(value: str | None, field: str) -> time | None:
    if value is None:
        return None
    try:
        parsed = time.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            "The idle window is not well formed.", errors={field: ["Use HH:MM, e.g. 08:00."]}
        ) from None
    if parsed.second or parsed.microsecond or parsed.tzinfo:
        raise InvalidInput(
            "The idle window is not well formed.",
            errors={field: ["Whole minutes, without a time zone."]},
        )
    return parsed


def to_domain(row: PriceRow, site_timezone: str) -> pricing.PriceVersion:
    start, end = (
        _hhmm(row.idle_window_start, "idle_window_start"),
        _hhmm(row.idle_window_end, "idle_window_end"),
    )
    window = IdleWindow(start, end, site_timezone) if start and end else None
    return pricing.PriceVersion(
        version_id=f"site{row.site_id}-group{row.price_group_id}-r{row.revision}",
        effective_from=row.effective_from,
        model=pricing.PricingModel(row.model),
        currency=row.currency,
        vat_rate=row.vat_rate,
        energy_per_kwh=row.energy_per_kwh,
        idle_per_minute=row.idle_per_minute,
        idle_window=window,
        idle_grace_minutes=row.idle_grace_minutes,
    )


def business_case(s: Session, operator_id: int, at: datetime) -> str | None:
    day = at.date()
    contract = s.scalar(
        select(OperatorContract)
        .where(
            OperatorContract.operator_id == operator_id,
            OperatorContract.valid_from <= day,
            (OperatorContract.valid_to.is_(None)) | (OperatorContract.valid_to >= day),
        )
        .order_by(OperatorContract.valid_from.desc())
    )
    return contract.business_case if contract else None


def set_price(
    s: Session, site: Site, change: PriceChange, user_id: int | None, now: datetime
) -> PriceRow:
    """Schedule a new price version (now or later; never in the past, so no session
    already started is re-priced)."""
    # The group is named in the path: another operator's is "not found", like a missing
    # one, and an id beyond the schema's range must not reach the database (a 500).
    group = s.get(PriceGroup, change.price_group_id) if valid_id(change.price_group_id) else None
    if group is None or group.operator_id != site.operator_id:
        raise NotFound("No such price group.")
    if change.currency is not None and change.currency != site.currency:
        raise InvalidInput(
            f"Prices at this site are in {site.currency}.",
            errors={"currency": [f"Must be {site.currency}."]},
        )
    effective = change.effective_from or now
    if effective.tzinfo is None:
        raise InvalidInput(
            "Give effective_from with its time zone offset.",
            errors={"effective_from": ["Include an offset, e.g. +01:00."]},
        )
    if effective < now:
        raise InvalidInput(
            "A price change cannot take effect in the past.",
            errors={"effective_from": ["Must not be before now."]},
        )
    case = business_case(s, site.operator_id, effective)
    try:
        model = pricing.PricingModel(change.model)
    except ValueError:
        raise InvalidInput(
            "Unknown pricing model.",
            errors={"model": ["One of: " + ", ".join(m.value for m in pricing.PricingModel)]},
        ) from None
    if (model == pricing.PricingModel.PLATFORM_PLAN) != (case == "PUB"):
        raise InvalidInput(
            "Public (PUB) stations are priced by the driver's plan; other sites set their "
            "own price.",
            errors={"model": ["Does not fit this operator's contract."]},
        )
    billing = change.billing_mode or (
        BillingMode.MONTHLY
        if model == pricing.PricingModel.VARIABLE_COST
        else BillingMode.PER_SESSION
    )
    if model == pricing.PricingModel.VARIABLE_COST and billing != BillingMode.MONTHLY:
        raise InvalidInput(
            "The variable-cost model is billed monthly, after period close.",
            errors={"billing_mode": ["Must be monthly."]},
        )
    revision = (
        s.scalar(
            select(func.max(PriceRow.revision)).where(
                PriceRow.site_id == site.id, PriceRow.price_group_id == group.id
            )
        )
        or 0
    ) + 1
    row = PriceRow(
        site_id=site.id,
        price_group_id=group.id,
        revision=revision,
        model=model.value,
        currency=site.currency,
        vat_rate=site.vat_rate,
        energy_per_kwh=change.energy_per_kwh,
        idle_per_minute=change.idle_per_minute,
        idle_window_start=change.idle_window_start,
        idle_window_end=change.idle_window_end,
        idle_grace_minutes=change.idle_grace_minutes,
        billing_mode=str(billing),
        effective_from=effective,
        created_by=user_id,
    )
    start = _hhmm(change.idle_window_start, "idle_window_start")
    end = _hhmm(change.idle_window_end, "idle_window_end")
    if (start is None) != (end is None):
        raise InvalidInput(
            "Give both ends of the idle window, or neither.",
            errors={"idle_window_end": ["Both or neither."]},
        )
    try:
        to_domain(row, site.timezone)  # the pure domain is the judge of a valid price
    except (pricing.PricingError, IdleWindowError, ValueError) as exc:
        raise InvalidInput(str(exc)) from exc
    s.add(row)
    s.commit()
    return row


def history(s: Session, site_id: int) -> list[PriceRow]:
    return list(
        s.scalars(
            select(PriceRow)
            .where(PriceRow.site_id == site_id)
            .order_by(PriceRow.price_group_id, PriceRow.revision)
        )
    )


def in_force(s: Session, site_id: int, price_group_id: int, at: datetime) -> PriceRow:
    row = s.scalar(
        select(PriceRow)
        .where(
            PriceRow.site_id == site_id,
            PriceRow.price_group_id == price_group_id,
            PriceRow.effective_from <= at,
        )
        .order_by(PriceRow.effective_from.desc(), PriceRow.revision.desc())
        .limit(1)
    )
    if row is None:
        raise NotFound("This site has no price for your price group yet.")
    return row
