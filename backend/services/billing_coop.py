"""Closing a variable-cost (housing co-op) site's billing period (domain.md §3, §6).

At the end of the month, before anybody is billed:

1. the site's actual electricity cost for the month: the supply meter's readings on the
   1st of the month and of the next month (a reading is taken at the start of its day,
   so the month is [1st, next 1st)) priced by the site's supply tariff
   (backend.services.supply.supply_cost);
2. the drivers' kWh: their variable-cost sessions ended in the month (site time zone),
   recorded by billing as `awaiting_cost`;
3. shared.settlement.close_variable_cost_period shares the cost in proportion to kWh,
   exactly (largest remainder); the rest of the metered energy (other loads) is passed
   through to the owner;
4. the result is stored (`CoopPeriod`, `CoopShare`: tariff, meter readings, invoice
   lines, cost per kWh, owner's rest, each driver's share and sessions) and each
   driver's share is split over the driver's sessions (largest remainder again), which
   become ordinary monthly charges (`awaiting_period`);
5. SessionBilling.close_month charges each driver once for the site and month and
   issues the monthly receipt: lines of kWh × the period's cost per kWh.

A period closes once: closing it again is refused and changes nothing. Missing meter
readings, a supply connection never entered, or a month not over yet: the close waits
with an error saying what is missing, and nothing is charged. A variable-cost session
of a month already closed (it reached billing late) goes into the next close.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import CoopPeriod, Receipt, SessionCharge, Site
from backend.db.models.pricing import PriceVersion

# The close is split by concern over billing_coop_*; callers import all of it from here.
from backend.services.billing_coop_cost import OWNER as OWNER
from backend.services.billing_coop_cost import PER_KWH as PER_KWH
from backend.services.billing_coop_cost import close_cost as close_cost
from backend.services.billing_coop_inputs import AWAITING_COST, AWAITING_PERIOD, PeriodClosed
from backend.services.billing_coop_inputs import PERIOD as PERIOD
from backend.services.billing_coop_inputs import UNBILLABLE as UNBILLABLE
from backend.services.billing_coop_inputs import Month as Month
from backend.services.billing_coop_inputs import PeriodNotReady as PeriodNotReady
from backend.services.billing_coop_inputs import find as find
from backend.services.billing_coop_inputs import is_variable_cost as is_variable_cost
from backend.services.billing_coop_inputs import month as month
from backend.services.billing_coop_view import get as get
from backend.services.billing_coop_view import session_ids as session_ids
from backend.services.billing_coop_view import shares_of as shares_of
from backend.services.billing_coop_view import view as view
from backend.services.payment_gateway import PaymentProviderUnavailable
from shared.pricing_inputs import PricingModel

if TYPE_CHECKING:
    from backend.services.billing import SessionBilling

log = logging.getLogger(__name__)


def charge_drivers(
    s: Session, billing: SessionBilling, row: CoopPeriod, now: datetime
) -> list[Receipt]:
    """close_month for every driver with a share of the period: one card charge per
    driver, site and month, one receipt (commits). A card processor out of reach leaves
    the driver for SessionBilling.close_period to retry."""
    pairs = s.execute(
        select(SessionCharge.driver_id, SessionCharge.period)
        .where(
            SessionCharge.site_id == row.site_id,
            SessionCharge.session_id.in_(session_ids(s, row)),
            SessionCharge.status.in_([AWAITING_PERIOD, "closing", "period_charged"]),
        )
        .distinct()
        .order_by(SessionCharge.driver_id, SessionCharge.period)
    ).all()
    out = []
    for driver_id, period in pairs:
        if driver_id is None:
            continue
        try:
            receipt = billing.close_month(s, driver_id, row.site_id, period, now)
        except PaymentProviderUnavailable:
            s.rollback()
            log.warning("card payments unavailable charging %s for driver %s", period, driver_id)
            continue
        if receipt is not None:
            out.append(receipt)
    return out


def close(
    s: Session,
    billing: SessionBilling,
    site: Site,
    period: str,
    now: datetime,
    user_id: int | None = None,
) -> CoopPeriod:
    """The operator's close: the month's result, then each driver charged (commits)."""
    row = close_cost(s, site, period, now, user_id)
    charge_drivers(s, billing, row, now)
    return row


def close_ready(s: Session, period: str, now: datetime) -> list[CoopPeriod]:
    """close_cost for every variable-cost site whose month can be closed now: readings
    complete, month over, not closed yet. The others wait (logged, nothing charged)."""
    candidates = set(
        s.scalars(
            select(PriceVersion.site_id).where(
                PriceVersion.model == PricingModel.VARIABLE_COST.value
            )
        )
    ) | set(
        s.scalars(
            select(SessionCharge.site_id).where(
                SessionCharge.status == AWAITING_COST, SessionCharge.site_id.is_not(None)
            )
        )
    )
    out = []
    for site_id in sorted(x for x in candidates if x is not None):
        site = s.get(Site, site_id)
        if site is None or find(s, site, period) is not None:
            continue
        m = month(period, site.timezone)
        if now < m.end or not is_variable_cost(s, site, m):
            continue
        try:
            out.append(close_cost(s, site, period, now))
        except (PeriodNotReady, PeriodClosed) as exc:
            s.rollback()
            log.info("co-op close of site %s waits: %s", site_id, exc.message)
    return out
