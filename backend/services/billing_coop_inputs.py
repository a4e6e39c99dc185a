"""Which month, which sites and which sessions a co-op period close works on, and the
statuses and errors every part of the close shares.

Split out of backend.services.billing_coop (which re-exports these names) so that each
part of the close stays small; it sits below the others so they can all import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend.db.models import CoopPeriod, SessionCharge, Site
from backend.db.models.pricing import PriceVersion
from backend.errors import Conflict, InvalidInput
from backend.services.billing_periods import PERIOD, next_period
from shared.pricing_inputs import PricingModel

AWAITING_COST, AWAITING_PERIOD, UNBILLABLE = "awaiting_cost", "awaiting_period", "unbillable"


class PeriodNotReady(Conflict):
    """The close has to wait: a reading, the supply connection, or the month's end."""

    code = "period_not_ready"


class PeriodClosed(Conflict):
    code = "period_closed"


@dataclass(frozen=True)
class Month:
    period: str
    first: date  # the reading that opens it
    next_first: date  # the reading that closes it
    start: datetime  # UTC, the site's local midnight of the 1st
    end: datetime  # UTC, the site's local midnight of the next 1st


def month(period: str, timezone: str) -> Month:
    if not PERIOD.match(period or ""):
        raise InvalidInput("A period is written YYYY-MM.", errors={"period": ["YYYY-MM"]})
    year, mon = (int(x) for x in period.split("-"))
    first = date(year, mon, 1)
    ny, nm = (int(x) for x in next_period(period).split("-"))
    next_first = date(ny, nm, 1)
    tz = ZoneInfo(timezone)

    def midnight(d: date) -> datetime:
        return datetime.combine(d, time(0), tzinfo=tz).astimezone(UTC)

    return Month(period, first, next_first, midnight(first), midnight(next_first))


# --- which sites, which sessions ----------------------------------------------------------


def is_variable_cost(s: Session, site: Site, m: Month) -> bool:
    """Was a price group of the site priced by variable cost at some time in the month
    (the version in force at its start, or one taking effect during it), or are
    variable-cost sessions of it waiting for their cost?"""
    rows = s.scalars(
        select(PriceVersion)
        .where(PriceVersion.site_id == site.id, PriceVersion.effective_from < m.end)
        .order_by(PriceVersion.price_group_id, PriceVersion.effective_from, PriceVersion.revision)
    ).all()
    in_force: dict[int, PriceVersion] = {}
    for row in rows:
        if row.effective_from <= m.start:
            in_force[row.price_group_id] = row  # the latest one before the month wins
        elif row.model == PricingModel.VARIABLE_COST.value:
            return True
    if any(v.model == PricingModel.VARIABLE_COST.value for v in in_force.values()):
        return True
    return bool(_waiting(s, site, m.period))


def _closed_periods(s: Session, site_id: int) -> set[str]:
    return set(s.scalars(select(CoopPeriod.period).where(CoopPeriod.site_id == site_id)))


def _waiting(s: Session, site: Site, period: str) -> list[SessionCharge]:
    """The month's variable-cost charges waiting for their cost, and late ones of months
    already closed (they go into the next close, domain.md §5)."""
    closed = sorted(p for p in _closed_periods(s, site.id) if p < period)
    return list(
        s.scalars(
            select(SessionCharge)
            .where(
                SessionCharge.site_id == site.id,
                SessionCharge.status == AWAITING_COST,
                or_(SessionCharge.period == period, SessionCharge.period.in_(closed)),
            )
            .order_by(SessionCharge.ended_at, SessionCharge.id)
            .with_for_update()
        )
    )


def find(s: Session, site: Site, period: str) -> CoopPeriod | None:
    return s.scalar(
        select(CoopPeriod).where(CoopPeriod.site_id == site.id, CoopPeriod.period == period)
    )
