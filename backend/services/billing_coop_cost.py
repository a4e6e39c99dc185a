"""The co-op close's arithmetic (steps 1-4 of backend.services.billing_coop): the
month's actual cost shared over the drivers' kWh and stored, and each driver's share
spread over the driver's sessions.

Split out of billing_coop (which re-exports close_cost) to keep each module small.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import CoopPeriod, CoopShare, SessionCharge, Site
from backend.db.models.pricing import SiteSupply
from backend.errors import Conflict, InvalidInput
from backend.services import supply
from backend.services.billing_coop_inputs import (
    AWAITING_PERIOD,
    UNBILLABLE,
    PeriodClosed,
    PeriodNotReady,
    _waiting,
    find,
    is_variable_cost,
    month,
)
from backend.services.billing_coop_view import _dec
from backend.services.billing_periods import open_period
from shared.money import Money, allocate
from shared.settlement import SettlementError, close_variable_cost_period

OWNER = "owner"
PER_KWH = Decimal("0.000001")  # the cost per kWh is shown to 6 decimals (NUMERIC(18, 6))


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
