"""A closed co-op period as the API shows it, traceable to the readings and the tariff.

Split out of backend.services.billing_coop (which re-exports these names) to keep the
close apart from how its stored result is read.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import CoopPeriod, CoopShare, SessionCharge, Site
from backend.errors import NotFound
from backend.services.billing_coop_inputs import find, month
from shared.money import Money

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
