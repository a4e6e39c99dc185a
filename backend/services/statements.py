"""The operator's per-code usage statement of operator_invoiced sessions (domain.md §2
P2, §5 Settlement): for each company code (a hotel's guest codes), each guest session
with its energy and its price, gross = net + VAT, so the hotel can invoice its guests.

Sessions belong to the month of their end in the site's time zone; amounts are the ones
the sessions were priced at (the price version in force at their start).
"""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import (
    ChargePoint,
    CompanyCode,
    Driver,
    Operator,
    SessionCharge,
    Site,
    User,
)
from backend.db.models.enums import BillingMode
from backend.errors import InvalidInput, NotFound
from backend.services.billing_periods import PERIOD
from backend.services.visibility import valid_id
from shared.money import Money


def _amount(minor: int, currency: str) -> str:
    return f"{Money(minor, currency).amount}"


def _totals(rows: list[SessionCharge], currency: str) -> dict[str, str]:
    return {
        "sessions": str(len(rows)),
        "energy_kwh": str(Decimal(sum(r.energy_wh for r in rows)).scaleb(-3)),
        "gross": _amount(sum(r.gross_minor for r in rows), currency),
        "net": _amount(sum(r.net_minor for r in rows), currency),
        "vat": _amount(sum(r.vat_minor for r in rows), currency),
    }


def _session(s: Session, c: SessionCharge) -> dict[str, Any]:
    site = s.get(Site, c.site_id) if c.site_id else None
    cp = s.get(ChargePoint, c.charge_point_id) if c.charge_point_id else None
    user = s.get(User, c.driver_id) if c.driver_id else None
    driver = s.get(Driver, c.driver_id) if c.driver_id else None
    tz = ZoneInfo(site.timezone) if site is not None else None
    inputs = json.loads(c.inputs or "{}")
    return {
        "session_id": c.session_id,
        "guest": {
            "name": (driver.billing_name or driver.full_name) if driver else "",
            "email": user.email if user else "",
        },
        "site": {"id": site.id, "name": site.name, "timezone": site.timezone} if site else None,
        "charge_point": cp.ocpp_identity if cp else "",
        "started_at": c.started_at.isoformat(),
        "ended_at": c.ended_at.isoformat(),
        "started_at_local": c.started_at.astimezone(tz).isoformat() if tz else None,
        "ended_at_local": c.ended_at.astimezone(tz).isoformat() if tz else None,
        "meter_start_wh": int(inputs.get("meter_start_wh") or 0),
        "meter_stop_wh": int(inputs.get("meter_stop_wh") or 0),
        "energy_kwh": str(Decimal(c.energy_wh).scaleb(-3)),
        "price_version": c.price_version_ref,
        "currency": c.currency,
        "gross": _amount(c.gross_minor, c.currency),
        "net": _amount(c.net_minor, c.currency),
        "vat": _amount(c.vat_minor, c.currency),
        "vat_rate": str(c.vat_rate),
    }


def operator_statement(
    s: Session, operator_id: int, period: str, code_id: int | None = None
) -> dict[str, Any]:
    """The operator's statement for `period` (YYYY-MM), for one code or all of them."""
    if not PERIOD.match(period or ""):
        raise InvalidInput("A period is written YYYY-MM.", errors={"period": ["YYYY-MM"]})
    operator = s.get(Operator, operator_id) if valid_id(operator_id) else None
    if operator is None:
        raise NotFound("No such operator.")
    query = select(SessionCharge).where(
        SessionCharge.operator_id == operator_id,
        SessionCharge.billing_mode == BillingMode.OPERATOR_INVOICED,
        SessionCharge.status == "operator_invoiced",
        SessionCharge.period == period,
    )
    if code_id is not None:
        code = s.get(CompanyCode, code_id) if valid_id(code_id) else None
        if code is None or code.operator_id != operator_id:
            raise NotFound("No such code.")  # another operator's code does not exist here
        query = query.where(SessionCharge.company_code_id == code_id)
    rows = list(s.scalars(query.order_by(SessionCharge.started_at, SessionCharge.id)))
    currency = rows[0].currency if rows else _currency(s, operator)
    groups: dict[int | None, list[SessionCharge]] = defaultdict(list)
    for row in rows:
        groups[row.company_code_id].append(row)
    codes = []
    for cid in sorted(groups, key=lambda x: (x is None, x or 0)):
        code = s.get(CompanyCode, cid) if cid is not None else None
        codes.append(
            {
                "code": None
                if code is None
                else {"id": code.id, "label": code.label, "hint": code.hint, "kind": code.kind},
                "sessions": [_session(s, c) for c in groups[cid]],
                "totals": _totals(groups[cid], currency),
            }
        )
    return {
        "operator": {"id": operator.id, "name": operator.legal_name or operator.name},
        "operator_id": operator.id,
        "period": period,
        "currency": currency,
        "codes": codes,
        "totals": _totals(rows, currency),
    }


def _currency(s: Session, operator: Operator) -> str:
    site = s.scalar(select(Site).where(Site.operator_id == operator.id).limit(1))
    return site.currency if site is not None else {"NO": "NOK"}.get(operator.country, "PLN")
