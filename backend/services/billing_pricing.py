"""Price one ended charging session from what the bridge recorded (domain.md §3, §5).

Which price applies: the price version in force when the session started (the one the
bridge fixed on the session, else the one in force at its start for its price group);
at a platform-priced (PUB) station the driver's plan held at the start. Which billing
mode: the company code's, else the membership's, else the price version's; the
variable-cost model is always monthly. The idle fee runs from car full to unplug in the
site's time zone (shared.idle handles midnight and DST).

Nothing here commits: `price_session_row` returns the values of a `SessionCharge`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import ChargePoint, ChargingSession, CompanyCode, Membership, Site
from backend.db.models.enums import BillingMode
from backend.db.models.pricing import Plan as PlanRow
from backend.db.models.pricing import PriceVersion as PriceRow
from backend.errors import NotFound
from backend.services import plans, pricing
from backend.services.receipts_lines import lines_of
from shared import pricing as domain
from shared.idle import IdleWindowError
from shared.money import MoneyError

ENDED = ("completed", "interrupted")


class Unbillable(Exception):
    """Nothing to price the session with, or nobody to bill: recorded, not retried."""


@dataclass(frozen=True)
class Priced:
    """A session and what billing needs of it; `values` are a SessionCharge's columns."""

    session: ChargingSession
    site: Site
    charge_point: ChargePoint
    billing_mode: str
    values: dict[str, Any]


def period_of(moment: datetime, timezone: str) -> str:
    """The calendar month (YYYY-MM) of `moment` on the site's wall clock."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m")


def price_row(s: Session, session: ChargingSession, site: Site) -> PriceRow | None:
    """The version fixed at the start, else the one in force at the start."""
    if session.price_version_id is not None:
        row = s.get(PriceRow, session.price_version_id)
        if row is not None:
            return row
    group = session.price_group_id or site.default_price_group_id
    if group is None:
        return None
    try:
        return pricing.in_force(s, site.id, group, session.started_at)
    except NotFound:
        return None


def billing_mode(s: Session, session: ChargingSession, row: PriceRow | None) -> str:
    """domain.md §5, billing modes per price group or per code."""
    if row is not None and row.model == domain.PricingModel.VARIABLE_COST:
        return BillingMode.MONTHLY.value
    if session.company_code_id is not None:
        code = s.get(CompanyCode, session.company_code_id)
        if code is not None:
            return code.billing_mode
    if session.membership_id is not None:
        membership = s.get(Membership, session.membership_id)
        if membership is not None:
            return membership.billing_mode
    if row is not None:
        return row.billing_mode
    return BillingMode.PER_SESSION.value


def plan_at_start(s: Session, driver_id: int | None, currency: str, at: datetime) -> PlanRow:
    """The plan the driver held when the session started; without one, the free
    pay-per-use plan of the currency (a driver charges in the public network under a
    plan, seed 000)."""
    if driver_id is not None:
        held = plans.current(s, driver_id, currency, at)
        if held is not None:
            plan = s.get(PlanRow, held.plan_id)
            if plan is not None:
                return plan
    free = s.scalar(
        select(PlanRow)
        .where(PlanRow.currency == currency, PlanRow.monthly_fee == Decimal(0))
        .order_by(PlanRow.active.desc(), PlanRow.id)
        .limit(1)
    )
    if free is None:
        raise Unbillable(f"No plan in {currency} to price a platform-priced session with.")
    return free


def usage_of(session: ChargingSession) -> domain.Usage:
    """What the meter measured. Energy is the bridge's (start, stored register readings,
    stop: register resets handled), laid on the start reading, so a line's kWh is
    always meter stop − meter start of the inputs it names."""
    start = session.meter_start_wh if session.meter_start_wh is not None else 0
    energy = max(session.energy_wh or 0, 0)
    ended = session.unplugged_at or session.stopped_at or session.started_at
    ended = max(ended, session.started_at)
    full = session.car_full_at
    if full is not None:
        full = min(max(full, session.started_at), ended)
    return domain.Usage(start, start + energy, session.started_at, ended, full)


def price_session_row(s: Session, session_id: int) -> Priced:
    """Price the stored session; raises Unbillable when it cannot be priced."""
    session = s.get(ChargingSession, session_id)
    if session is None:
        raise NotFound("No such charging session.")
    cp = s.get(ChargePoint, session.charge_point_id)
    site = s.get(Site, cp.site_id) if cp is not None else None
    if cp is None or site is None:
        raise Unbillable("The session's charge point or site no longer exists.")
    row = price_row(s, session, site)
    mode = billing_mode(s, session, row)
    usage = usage_of(session)
    base: dict[str, Any] = {
        "session_id": session.id,
        "driver_id": session.driver_id,
        "operator_id": site.operator_id,
        "site_id": site.id,
        "charge_point_id": cp.id,
        "company_code_id": session.company_code_id,
        "billing_mode": mode,
        "currency": site.currency,
        "vat_rate": site.vat_rate,
        "energy_wh": usage.energy_wh,
        "meter_start_wh": session.meter_start_wh,
        "meter_stop_wh": session.meter_stop_wh,
        "started_at": usage.started_at,
        "ended_at": usage.ended_at,
        "car_full_at": usage.full_at,
        "period": period_of(usage.ended_at, site.timezone),
    }
    if row is None:
        raise Unbillable("No price was in force for this session's price group at its start.")
    base |= {"price_version_id": row.id, "model": row.model, "vat_rate": row.vat_rate}
    version = pricing.to_domain(row, site.timezone)
    base["price_version_ref"] = version.version_id
    if version.model == domain.PricingModel.VARIABLE_COST:
        return Priced(session, site, cp, mode, base | {"status": "awaiting_cost"})
    plan_row = None
    if version.model == domain.PricingModel.PLATFORM_PLAN:
        plan_row = plan_at_start(s, session.driver_id, site.currency, session.started_at)
    plan = plans.to_domain(plan_row) if plan_row is not None else None
    try:
        priced = domain.price_session(usage, version, plan)
    except (domain.PricingError, IdleWindowError, MoneyError) as exc:
        raise Unbillable(str(exc)) from exc
    split = priced.split
    inputs = {
        **priced.inputs,
        "session_id": str(session.id),
        "charge_point": cp.ocpp_identity,
        "connector_id": str(session.connector_id),
        "price_version_id": str(row.id),
        "site_timezone": site.timezone,
        "meter_stop_wh_reported": ""
        if session.meter_stop_wh is None
        else str(session.meter_stop_wh),
    }
    explanation = priced.explain()
    if session.meter_stop_wh is not None and session.meter_stop_wh != usage.meter_stop_wh:
        explanation.append(
            f"the charger reported meter stop {session.meter_stop_wh} Wh; energy "
            f"{usage.energy_wh} Wh is from its register readings (a reset or a gap)"
        )
    if plan_row is not None:
        base["plan_id"] = plan_row.id
    return Priced(
        session,
        site,
        cp,
        mode,
        base
        | {
            "status": "priced",
            "gross_minor": split.gross.minor,
            "net_minor": split.net.minor,
            "vat_minor": split.vat.minor,
            "idle_minutes": priced.idle_minutes,
            "lines": json.dumps(lines_of(priced, plan_row.name if plan_row else None)),
            "inputs": json.dumps(inputs, sort_keys=True),
            "explanation": json.dumps(explanation, ensure_ascii=False),
        },
    )


def unbillable_values(s: Session, session: ChargingSession, why: str) -> dict[str, Any]:
    """What is known of a session that cannot be priced, so it is recorded for review
    (status `unbillable`, `failure` says why) instead of being retried for ever."""
    cp = s.get(ChargePoint, session.charge_point_id)
    site = s.get(Site, cp.site_id) if cp is not None else None
    ended = max(
        session.unplugged_at or session.stopped_at or session.started_at, session.started_at
    )
    return {
        "session_id": session.id,
        "driver_id": session.driver_id,
        "operator_id": site.operator_id if site is not None else None,
        "site_id": site.id if site is not None else None,
        "charge_point_id": cp.id if cp is not None else None,
        "company_code_id": session.company_code_id,
        "billing_mode": BillingMode.PER_SESSION.value,
        "status": "unbillable",
        "failure": why[:300],
        "currency": session.currency,
        "vat_rate": site.vat_rate if site is not None else Decimal(0),
        "energy_wh": max(session.energy_wh or 0, 0),
        "meter_start_wh": session.meter_start_wh,
        "meter_stop_wh": session.meter_stop_wh,
        "started_at": session.started_at,
        "ended_at": ended,
        "car_full_at": session.car_full_at,
        "period": period_of(ended, site.timezone if site is not None else "UTC"),
    }
