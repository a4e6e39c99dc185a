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

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import CoopPeriod, CoopShare, Receipt, SessionCharge, Site
from backend.db.models.pricing import PriceVersion, SiteSupply
from backend.errors import Conflict, InvalidInput, NotFound
from backend.services import supply
from backend.services.billing_periods import next_period, open_period
from backend.services.payment_gateway import PaymentProviderUnavailable
from shared.money import Money, allocate
from shared.pricing_inputs import PricingModel
from shared.settlement import SettlementError, close_variable_cost_period

if TYPE_CHECKING:
    from backend.services.billing import SessionBilling

log = logging.getLogger(__name__)

AWAITING_COST, AWAITING_PERIOD, UNBILLABLE = "awaiting_cost", "awaiting_period", "unbillable"
OWNER = "owner"
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
PER_KWH = Decimal("0.000001")  # the cost per kWh is shown to 6 decimals (NUMERIC(18, 6))


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


# --- the close ----------------------------------------------------------------------------


def close_cost(
    s: Session, site: Site, period: str, now: datetime, user_id: int | None = None
) -> CoopPeriod:
    """Compute and store the month's result and give each waiting session its amount
    (commits). Raises PeriodClosed when done already, PeriodNotReady when it must wait."""
    m = month(period, site.timezone)
    where = f"{period} at {site.name}"
    if find(s, site, period) is not None:
        raise PeriodClosed(f"{where} is already closed; a period closes once.")
    if now < m.end:
        raise PeriodNotReady(
            f"{where} has not ended yet: it ends {m.next_first.isoformat()} 00:00 "
            f"({site.timezone}); the actual cost is known only then."
        )
    if not is_variable_cost(s, site, m):
        raise Conflict(
            f"{site.name} was not priced by variable cost in {period}: nothing to close."
        )
    supply_row = s.get(SiteSupply, site.id)
    if supply_row is None:
        raise PeriodNotReady(
            f"Cannot close {where}: the site's supply connection (tariff group) has not "
            "been entered.",
            errors={"supply": ["missing"]},
        )
    try:
        cost = supply.supply_cost(s, site, m.first, m.next_first)
    except InvalidInput as exc:
        missing = exc.errors.get("readings")
        if missing:
            raise PeriodNotReady(
                f"Cannot close {where}: the supply meter reading is missing for "
                + " and ".join(missing)
                + " (a reading is taken at the start of its day: the month runs from "
                f"{m.first.isoformat()} to {m.next_first.isoformat()}). Nothing was charged.",
                errors={"readings": missing},
            ) from exc
        raise
    charges = _waiting(s, site, period)
    billable = [c for c in charges if c.driver_id is not None]
    by_driver: dict[int, list[SessionCharge]] = {}
    for c in billable:
        by_driver.setdefault(c.driver_id, []).append(c)  # type: ignore[arg-type]
    driver_kwh = {
        str(d): Decimal(sum(c.energy_wh for c in cs)).scaleb(-3) for d, cs in by_driver.items()
    }
    vat_rate = site.vat_rate
    try:
        result = close_variable_cost_period(cost.invoice, driver_kwh, vat_rate, OWNER)
    except SettlementError as exc:
        raise PeriodNotReady(
            f"Cannot close {where}: {exc} Check the meter readings.",
            errors={"readings": [str(exc)]},
        ) from exc
    inv = cost.invoice
    cur = inv.net.currency
    metered = inv.metered_kwh
    per_kwh_net = per_kwh_gross = None
    if metered:
        per_kwh_net = (inv.net.amount / metered).quantize(PER_KWH)
        per_kwh_gross = (inv.net.amount * (1 + vat_rate) / metered).quantize(PER_KWH)
    shares = {x.key: x for x in result.shares}
    owner = shares[OWNER]
    row = CoopPeriod(
        site_id=site.id,
        operator_id=site.operator_id,
        period=period,
        timezone=site.timezone,
        tariff_id=inv.tariff_id,
        tariff_group=inv.group,
        invoice_form=supply_row.invoice_form,
        start_reading_id=cost.start_reading.id,
        end_reading_id=cost.end_reading.id,
        start_read_on=cost.start_reading.read_on,
        start_register_kwh=cost.start_reading.register_kwh,
        end_read_on=cost.end_reading.read_on,
        end_register_kwh=cost.end_reading.register_kwh,
        metered_kwh=metered,
        drivers_kwh=sum(driver_kwh.values(), Decimal(0)),
        owner_kwh=owner.kwh,
        currency=cur,
        vat_rate=vat_rate,
        cost_net_minor=inv.net.minor,
        cost_vat_minor=inv.vat.minor,
        cost_gross_minor=inv.gross.minor,
        cost_per_kwh_net=per_kwh_net,
        cost_per_kwh_gross=per_kwh_gross,
        owner_net_minor=owner.cost.net.minor,
        owner_vat_minor=owner.cost.vat.minor,
        owner_gross_minor=owner.cost.gross.minor,
        invoice_lines=json.dumps(
            [
                {
                    "description": x.description,
                    "quantity": str(x.quantity),
                    "unit": x.unit,
                    "unit_price": str(x.unit_price),
                    "amount_minor": x.amount.minor,
                }
                for x in inv.lines
            ]
        ),
        explanation=json.dumps(
            [
                f"meter readings: {cost.start_reading.read_on} {cost.start_reading.register_kwh}"
                f" kWh (#{cost.start_reading.id}) → {cost.end_reading.read_on} "
                f"{cost.end_reading.register_kwh} kWh (#{cost.end_reading.id})",
                *result.explain(),
                f"cost per kWh {per_kwh_net} net, {per_kwh_gross} gross",
            ],
            ensure_ascii=False,
        ),
        closed_by=user_id,
        closed_at=now,
        created_at=now,
    )
    s.add(row)
    try:
        s.flush()  # a concurrent close of the same month stops here
    except IntegrityError as exc:
        s.rollback()
        raise PeriodClosed(f"{where} is already closed; a period closes once.") from exc
    for driver_id, cs in by_driver.items():
        share = shares[str(driver_id)]
        s.add(
            CoopShare(
                period_id=row.id,
                driver_id=driver_id,
                energy_wh=sum(c.energy_wh for c in cs),
                kwh=share.kwh,
                net_minor=share.cost.net.minor,
                vat_minor=share.cost.vat.minor,
                gross_minor=share.cost.gross.minor,
                session_ids=json.dumps([c.session_id for c in cs]),
            )
        )
        _give_amounts(s, row, cs, share.cost.gross, share.cost.net, now)
    for c in charges:
        if c.driver_id is None:
            c.status = UNBILLABLE
            c.failure = "Nobody to bill: no driver; its energy was passed through to the owner."
            c.updated_at = now
    s.commit()
    return row


def _give_amounts(
    s: Session,
    row: CoopPeriod,
    charges: list[SessionCharge],
    gross: Money,
    net: Money,
    now: datetime,
) -> None:
    """The driver's share over the driver's sessions in proportion to their energy,
    exactly (largest remainder); each becomes a monthly charge of the closing month."""
    weights = [Decimal(c.energy_wh) for c in charges]
    if sum(weights) == 0:
        weights = [Decimal(1)] * len(charges)
    grosses, nets = allocate(gross, weights), allocate(net, weights)
    unit = row.cost_per_kwh_gross if row.cost_per_kwh_gross is not None else Decimal(0)
    for c, g, n in zip(charges, grosses, nets, strict=True):
        kwh = Decimal(c.energy_wh).scaleb(-3)
        c.gross_minor, c.net_minor, c.vat_minor = g.minor, n.minor, g.minor - n.minor
        c.lines = json.dumps(
            [
                {
                    "kind": "energy",
                    "quantity": f"{kwh:.3f}",
                    "unit": "kWh",
                    "unit_price": _dec(unit),
                    "amount_minor": g.minor,
                    "price_version": c.price_version_ref,
                    "cost_period": {
                        "id": row.id,
                        "period": row.period,
                        "cost_per_kwh_net": _dec(row.cost_per_kwh_net),
                        "cost_per_kwh_gross": _dec(row.cost_per_kwh_gross),
                        "tariff": f"{row.tariff_id} {row.tariff_group}",
                        "rule": "share of the site's actual electricity cost in "
                        "proportion to kWh (largest remainder)",
                    },
                }
            ]
        )
        start = c.meter_start_wh if c.meter_start_wh is not None else 0
        c.inputs = json.dumps(
            {
                "session_id": str(c.session_id),
                "meter_start_wh": str(start),
                "meter_stop_wh": str(start + c.energy_wh),
                "energy_wh": str(c.energy_wh),
                "price_version_id": str(c.price_version_id or ""),
                "coop_period_id": str(row.id),
                "coop_period": row.period,
                "tariff_id": row.tariff_id,
                "tariff_group": row.tariff_group,
                "meter_reading_ids": f"{row.start_reading_id},{row.end_reading_id}",
                "cost_per_kwh_net": _dec(row.cost_per_kwh_net),
                "site_timezone": row.timezone,
            },
            sort_keys=True,
        )
        c.explanation = json.dumps(
            [
                *json.loads(row.explanation),
                f"session {c.session_id}: {kwh:.3f} kWh of the driver's share → "
                f"{g.amount} gross ({n.amount} net)",
            ],
            ensure_ascii=False,
        )
        # Charged with the month being closed; a late session of a month closed before
        # joins this one, and a month the driver was already charged for moves on.
        c.period = open_period(s, c.driver_id, c.site_id, row.period)  # type: ignore[arg-type]
        c.status, c.failure, c.updated_at = AWAITING_PERIOD, "", now


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


# --- reading it -----------------------------------------------------------------------------


def get(s: Session, site: Site, period: str) -> CoopPeriod:
    month(period, site.timezone)  # a well-formed period
    row = find(s, site, period)
    if row is None:
        raise NotFound(f"{period} has not been closed at this site.")
    return row


def shares_of(s: Session, row: CoopPeriod) -> list[CoopShare]:
    return list(
        s.scalars(select(CoopShare).where(CoopShare.period_id == row.id).order_by(CoopShare.id))
    )


def session_ids(s: Session, row: CoopPeriod) -> list[int]:
    return [i for share in shares_of(s, row) for i in json.loads(share.session_ids)]


def _amount(minor: int, currency: str) -> str:
    return f"{Money(minor, currency).amount}"


def _dec(value: Decimal | None) -> str | None:
    """As the database gives decimals back: at least two places, no trailing zeros."""
    if value is None:
        return None
    number = value.normalize()
    exp = number.as_tuple().exponent
    return str(number.quantize(Decimal("0.01")) if isinstance(exp, int) and exp > -2 else number)


def view(s: Session, row: CoopPeriod) -> dict[str, Any]:
    """The stored result as the API shows it: traceable to the readings and the tariff."""
    cur = row.currency

    def split(net: int, vat: int, gross: int) -> dict[str, str]:
        return {"net": _amount(net, cur), "vat": _amount(vat, cur), "gross": _amount(gross, cur)}

    shares = shares_of(s, row)
    charges = {
        c.session_id: c
        for c in s.scalars(
            select(SessionCharge).where(SessionCharge.session_id.in_(session_ids(s, row)))
        )
    }
    return {
        "id": row.id,
        "operator_id": row.operator_id,
        "site_id": row.site_id,
        "period": row.period,
        "timezone": row.timezone,
        "status": "closed",
        "closed_at": row.closed_at,
        "closed_by": row.closed_by,
        "tariff": {
            "id": row.tariff_id,
            "group": row.tariff_group,
            "invoice_form": row.invoice_form,
        },
        "meter_readings": [
            {
                "id": row.start_reading_id,
                "read_on": row.start_read_on,
                "register_kwh": _dec(row.start_register_kwh),
            },
            {
                "id": row.end_reading_id,
                "read_on": row.end_read_on,
                "register_kwh": _dec(row.end_register_kwh),
            },
        ],
        "metered_kwh": _dec(row.metered_kwh),
        "drivers_kwh": _dec(row.drivers_kwh),
        "owner_kwh": _dec(row.owner_kwh),
        "currency": cur,
        "vat_rate": _dec(row.vat_rate),
        "cost": split(row.cost_net_minor, row.cost_vat_minor, row.cost_gross_minor),
        "cost_lines": [
            {k: v for k, v in x.items() if k != "amount_minor"}
            | {"amount": _amount(x["amount_minor"], cur)}
            for x in json.loads(row.invoice_lines)
        ],
        "cost_per_kwh_net": _dec(row.cost_per_kwh_net),
        "cost_per_kwh_gross": _dec(row.cost_per_kwh_gross),
        "owner": split(row.owner_net_minor, row.owner_vat_minor, row.owner_gross_minor),
        "shares": [
            {
                "driver_id": x.driver_id,
                "kwh": _dec(x.kwh),
                **split(x.net_minor, x.vat_minor, x.gross_minor),
                "sessions": [
                    {
                        "session_id": i,
                        "kwh": _dec(Decimal(charges[i].energy_wh).scaleb(-3))
                        if i in charges
                        else None,
                        "gross": _amount(charges[i].gross_minor, cur) if i in charges else None,
                        "status": charges[i].status if i in charges else None,
                        "receipt_id": charges[i].receipt_id if i in charges else None,
                    }
                    for i in json.loads(x.session_ids)
                ],
            }
            for x in shares
        ],
        "explanation": json.loads(row.explanation),
    }
