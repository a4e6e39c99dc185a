"""What a driver (and an operator's staff) see of charging sessions: the live session
with its cost so far, and the history.

The cost so far is priced by the pricing engine with the session's own price version
(the one fixed at its start), on the energy the meter has reported up to the last
sample and the time up to now — the same rules the final amount uses (domain.md §5),
so the running figure and the receipt agree once the session ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.models import (
    ChargePoint,
    ChargingSession,
    MeterSample,
    Operator,
    SessionCharge,
    SessionStart,
    Site,
)
from backend.errors import NotFound
from backend.services import billing_pricing, plans, pricing
from backend.services.session_meters import ENERGY_REGISTER, POWER
from backend.services.visibility import valid_id
from shared import pricing as domain
from shared.money import Money


@dataclass(frozen=True)
class SessionView:
    id: int
    state: str  # charging | car_full | stopped (cable in) | ended | interrupted
    status: str  # the bridge's: active | stopped | completed | interrupted
    charge_point_id: int
    ocpp_identity: str
    connector_id: int
    site_id: int
    site_name: str
    driver_id: int | None
    started_at: datetime
    stopped_at: datetime | None
    car_full_at: datetime | None
    unplugged_at: datetime | None
    duration_s: int
    energy_kwh: Decimal
    power_kw: Decimal | None
    currency: str
    cost_so_far: str | None  # gross, as text (exact decimal)
    idle_minutes: int | None
    amount: str | None  # the final, priced amount once ended
    billing_status: str | None
    receipt_id: int | None
    start_id: int | None


def _state(session: ChargingSession) -> str:
    if session.status == "active":
        return "car_full" if session.car_full_at is not None else "charging"
    if session.status == "stopped":
        return "stopped"
    return "ended" if session.status == "completed" else session.status


def _last(s: Session, session_id: int, measurand: str) -> Decimal | None:
    value = s.scalar(
        select(MeterSample.value)
        .where(
            MeterSample.session_id == session_id,
            MeterSample.measurand == measurand,
            MeterSample.phase == "",
        )
        .order_by(MeterSample.timestamp.desc())
        .limit(1)
    )
    return Decimal(value) if value is not None else None


def _energy_wh(s: Session, session: ChargingSession) -> int:
    if session.energy_wh is not None:
        return max(session.energy_wh, 0)
    register = _last(s, session.id, ENERGY_REGISTER)
    if register is None or session.meter_start_wh is None:
        return 0
    return max(int(register) - session.meter_start_wh, 0)


def _running_price(
    s: Session, session: ChargingSession, site: Site, energy_wh: int, now: datetime
) -> tuple[Money | None, int | None]:
    """Price the session as if it ended now (None when it cannot be priced yet)."""
    row = billing_pricing.price_row(s, session, site)
    if row is None:
        return None, None
    version = pricing.to_domain(row, site.timezone)
    if version.model == domain.PricingModel.VARIABLE_COST:
        return None, None  # known only after the billing period's cost
    plan = None
    if version.model == domain.PricingModel.PLATFORM_PLAN:
        try:
            plan_row = billing_pricing.plan_at_start(
                s, session.driver_id, site.currency, session.started_at
            )
        except billing_pricing.Unbillable:
            return None, None
        plan = plans.to_domain(plan_row)
    start = session.meter_start_wh or 0
    ended = max(session.unplugged_at or now, session.started_at)
    full = session.car_full_at
    if full is not None:
        full = min(max(full, session.started_at), ended)
    usage = domain.Usage(start, start + energy_wh, session.started_at, ended, full)
    try:
        priced = domain.price_session(usage, version, plan)
    except Exception:
        return None, None
    return priced.gross, priced.idle_minutes


def view(s: Session, session: ChargingSession, now: datetime) -> SessionView:
    cp = s.get(ChargePoint, session.charge_point_id)
    site = s.get(Site, cp.site_id) if cp is not None else None
    assert cp is not None and site is not None
    charge = s.scalar(select(SessionCharge).where(SessionCharge.session_id == session.id))
    start_id = s.scalar(select(SessionStart.id).where(SessionStart.session_id == session.id))
    energy_wh = _energy_wh(s, session)
    power = _last(s, session.id, POWER) if session.status == "active" else None
    end = session.unplugged_at or (now if session.status in ("active", "stopped") else None)
    end = end or session.stopped_at or session.started_at
    cost: Money | None
    idle: int | None
    if charge is not None:
        cost, idle = Money(charge.gross_minor, charge.currency), charge.idle_minutes
    else:
        cost, idle = _running_price(s, session, site, energy_wh, now)
    return SessionView(
        id=session.id,
        state=_state(session),
        status=session.status,
        charge_point_id=cp.id,
        ocpp_identity=cp.ocpp_identity,
        connector_id=session.connector_id,
        site_id=site.id,
        site_name=site.name,
        driver_id=session.driver_id,
        started_at=session.started_at,
        stopped_at=session.stopped_at,
        car_full_at=session.car_full_at,
        unplugged_at=session.unplugged_at,
        duration_s=max(int((end - session.started_at).total_seconds()), 0),
        energy_kwh=Decimal(energy_wh).scaleb(-3).quantize(Decimal("0.001")),
        power_kw=(power / 1000).quantize(Decimal("0.001")) if power is not None else None,
        currency=site.currency,
        cost_so_far=str(cost.amount) if cost is not None else None,
        idle_minutes=idle,
        amount=str(Money(charge.gross_minor, charge.currency).amount)
        if charge is not None and charge.status not in ("unbillable", "awaiting_cost")
        else None,
        billing_status=charge.status if charge is not None else None,
        receipt_id=charge.receipt_id if charge is not None else None,
        start_id=start_id,
    )


def driver_history(
    s: Session, driver_id: int, now: datetime, *, offset: int, limit: int
) -> tuple[list[SessionView], int]:
    where = ChargingSession.driver_id == driver_id
    total = s.scalar(select(func.count()).select_from(ChargingSession).where(where)) or 0
    rows = s.scalars(
        select(ChargingSession)
        .where(where)
        .order_by(ChargingSession.started_at.desc(), ChargingSession.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return [view(s, r, now) for r in rows], int(total)


def operator_sessions(
    s: Session,
    operator_id: int,
    now: datetime,
    *,
    offset: int,
    limit: int,
    site_id: int | None = None,
    active_only: bool = False,
) -> tuple[list[SessionView], int]:
    """Sessions at the operator's own sites, newest first (404 for no such operator)."""
    if not valid_id(operator_id) or s.get(Operator, operator_id) is None:
        raise NotFound("No such operator.")
    query = (
        select(ChargingSession)
        .join(ChargePoint, ChargePoint.id == ChargingSession.charge_point_id)
        .join(Site, Site.id == ChargePoint.site_id)
        .where(Site.operator_id == operator_id)
    )
    if site_id is not None:
        query = query.where(Site.id == site_id)
    if active_only:
        query = query.where(ChargingSession.status.in_(("active", "stopped")))
    total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = s.scalars(
        query.order_by(ChargingSession.started_at.desc(), ChargingSession.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return [view(s, r, now) for r in rows], int(total)
