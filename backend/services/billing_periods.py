"""Billing periods of monthly billing: calendar months (YYYY-MM) in the site's time zone.

domain.md §5: sessions belong to the period of their end; a period is settled once, and
what arrives after it closed goes into the next one.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import Payment, SessionCharge
from backend.db.models.enums import BillingMode

CLOSED = ("closing", "period_charged", "paid", "free")
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")  # YYYY-MM


def days_of(period: str) -> tuple[date, date] | None:
    """The first and last day of a YYYY-MM period; None if it is not one."""
    if not PERIOD.match(period or ""):
        return None
    year, month = int(period[:4]), int(period[5:])
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def next_period(period: str) -> str:
    year, month = (int(x) for x in period.split("-"))
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{year:04d}-{month:02d}"


# The last local month to end is UTC−12's, twelve hours after the UTC month.
LAST_ZONE_BEHIND_UTC = timedelta(hours=12)


def period_due(now: datetime) -> str:
    """The latest month (YYYY-MM) that has ended in every time zone at ``now``: what a
    scheduled close may settle. Closing is idempotent, so asking every hour is safe."""
    moment = now.astimezone(UTC) - LAST_ZONE_BEHIND_UTC
    year, month = (moment.year - 1, 12) if moment.month == 1 else (moment.year, moment.month - 1)
    return f"{year:04d}-{month:02d}"


def is_closed(s: Session, driver_id: int, site_id: int, period: str) -> bool:
    """Has the driver's month at the site been closed (its card charge started)?"""
    charged = s.scalar(
        select(Payment.id).where(
            Payment.driver_id == driver_id,
            Payment.site_id == site_id,
            Payment.period == period,
            Payment.kind == "monthly",
        )
    )
    if charged is not None:
        return True
    closing = s.scalar(
        select(SessionCharge.id)
        .where(
            SessionCharge.driver_id == driver_id,
            SessionCharge.site_id == site_id,
            SessionCharge.period == period,
            SessionCharge.billing_mode == BillingMode.MONTHLY,
            SessionCharge.status.in_(CLOSED),
        )
        .limit(1)
    )
    return closing is not None


def open_period(s: Session, driver_id: int, site_id: int, period: str) -> str:
    """`period`, or the first later month not yet closed for the driver and site."""
    for _ in range(120):
        if not is_closed(s, driver_id, site_id, period):
            return period
        period = next_period(period)
    return period
