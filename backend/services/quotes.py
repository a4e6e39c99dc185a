"""What a driver pays at a charge point: the price that applies to *them* (their plan,
their price group; domain.md §5 "Which price applies") and previews of a session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from backend.db.models import ChargePoint, PriceGroup
from backend.db.models.pricing import Plan
from backend.db.models.pricing import PriceVersion as PriceRow
from backend.errors import InvalidInput, NotFound
from backend.services import plans, pricing
from backend.services.visibility import Viewer, site_access, valid_id
from shared import pricing as domain


@dataclass
class Quote:
    charge_point_id: int
    site_id: int
    currency: str
    vat_rate: Decimal
    price_group: PriceGroup | None
    member: bool
    row: PriceRow
    version: domain.PriceVersion
    plan: Plan | None
    plan_required: bool
    warnings: list[str] = field(default_factory=list)

    @property
    def energy_per_kwh(self) -> Decimal | None:
        if self.version.model == domain.PricingModel.PLATFORM_PLAN:
            return self.plan.price_per_kwh if self.plan else None
        if self.version.model == domain.PricingModel.VARIABLE_COST:
            return None  # known only at period close
        return self.version.energy_per_kwh


def quote(s: Session, viewer: Viewer, charge_point_id: int, now: datetime) -> Quote:
    cp = s.get(ChargePoint, charge_point_id) if valid_id(charge_point_id) else None
    # A point the caller may not see (a private site, not yet commissioned) answers like a
    # missing one, word for word: "No such site." would tell that it exists (domain.md §5).
    access = site_access(s, viewer, cp.site_id, now) if cp is not None and cp.commissioned else None
    if cp is None or access is None:
        raise NotFound("No such charge point.")
    site = access.site
    if access.price_group_id is None:
        raise NotFound("This site has no price for your price group yet.")
    row = pricing.in_force(s, site.id, access.price_group_id, now)
    version = pricing.to_domain(row, site.timezone)
    plan, plan_required, warnings = None, False, []
    if version.model == domain.PricingModel.PLATFORM_PLAN:
        plan_required = True
        held = plans.current(s, viewer.driver_id, site.currency, now) if viewer.driver_id else None
        plan = s.get(Plan, held.plan_id) if held else None
        if plan is None:
            warnings.append(
                "Charging here needs a plan: the free pay-per-use plan or a paid "
                "one. Choose one before you start."
            )
    if version.model == domain.PricingModel.VARIABLE_COST:
        warnings.append(
            "You pay your share of the site's real electricity cost, computed at "
            "the end of the month and charged then."
        )
    if version.model == domain.PricingModel.FIXED_WITH_IDLE and version.idle_per_minute:
        warnings.append(_idle_warning(version))
    return Quote(
        cp.id,
        site.id,
        site.currency,
        site.vat_rate,
        s.get(PriceGroup, access.price_group_id),
        access.member,
        row,
        version,
        plan,
        plan_required,
        warnings,
    )


def _idle_warning(v: domain.PriceVersion) -> str:
    when = (
        f" between {v.idle_window.start:%H:%M} and {v.idle_window.end:%H:%M} local time"
        if v.idle_window and not v.idle_window.all_day
        else ""
    )
    grace = f", after {v.idle_grace_minutes} free minutes" if v.idle_grace_minutes else ""
    return (
        f"Once your car is full, an idle fee of {v.idle_per_minute} {v.currency} per "
        f"minute applies{when}{grace} until you unplug."
    )


def preview(q: Quote, kwh: Decimal, idle_minutes: int, now: datetime) -> domain.PricedSession:
    """Cost of `kwh`, plus `idle_minutes` of idle time if the car stays after it is full.

    The idle part is priced as if the car were full now: the window and the grace period
    decide how many of the expected minutes are billed.
    """
    if kwh < 0 or idle_minutes < 0:
        raise InvalidInput("Energy and idle time cannot be negative.")
    if q.version.model == domain.PricingModel.VARIABLE_COST:
        raise InvalidInput(
            "At this site the price is the real cost per kWh of the month, "
            "known only after the month ends."
        )
    if q.plan_required and q.plan is None:
        raise InvalidInput("Choose a plan first: the price here is your plan's price.")
    plan = plans.to_domain(q.plan) if q.plan else None
    wh = int((kwh * 1000).to_integral_value())
    end = now
    full_at = None
    if q.version.model == domain.PricingModel.FIXED_WITH_IDLE and idle_minutes:
        full_at, end = now, now + timedelta(minutes=idle_minutes)
    usage = domain.Usage(0, wh, now, end, full_at)
    version = domain.PriceVersion(**{**q.version.__dict__, "effective_from": now})
    return domain.price_session(usage, version, plan)
