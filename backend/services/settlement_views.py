"""Settlements as the operator portal shows them: amounts as exact decimal strings,
every line and item traceable (receipt numbers, refunds, sessions with their energy)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.models.settlements import Payout, Settlement, SettlementItem
from backend.errors import NotFound
from backend.services.operators import get_operator
from backend.services.settlement_basis import kwh_of
from backend.services.settlements import parse_period
from backend.services.visibility import valid_id
from shared import countries
from shared.money import Money


@dataclass(frozen=True)
class Found:
    items: list[Any]
    total: int


def _amount(minor: int, currency: str) -> str:
    return str(Money(minor, currency).amount)


def get(s: Session, operator_id: int, settlement_id: int) -> Settlement:
    get_operator(s, operator_id)  # a missing operator is a 404 for admins too
    row = s.get(Settlement, settlement_id) if valid_id(settlement_id) else None
    if row is None or row.operator_id != operator_id:
        raise NotFound("No such settlement.")
    return row


def list_for_operator(s: Session, operator_id: int, page: int, size: int) -> Found:
    get_operator(s, operator_id)
    where = Settlement.operator_id == operator_id
    total = s.scalar(select(func.count(Settlement.id)).where(where)) or 0
    rows = s.scalars(
        select(Settlement)
        .where(where)
        .order_by(Settlement.period.desc(), Settlement.id.desc())
        .offset((page - 1) * size)
        .limit(size)
    ).all()
    return Found(list(rows), total)


def summary(s: Session, row: Settlement) -> dict[str, Any]:
    first, last = parse_period(row.period)
    cur = row.currency
    payout = s.scalar(select(Payout).where(Payout.settlement_id == row.id))
    return {
        "id": row.id,
        "number": row.number,
        "operator_id": row.operator_id,
        "period": row.period,
        "period_start": first,
        "period_end": last,
        "business_case": row.business_case,
        "currency": cur,
        "direction": row.direction,
        "net": _amount(row.net_minor, cur),
        "vat": _amount(row.vat_minor, cur),
        "gross": _amount(row.gross_minor, cur),
        "created_at": row.created_at,
        "payout": payout_view(payout, row) if payout is not None else None,
    }


def detail(s: Session, row: Settlement) -> dict[str, Any]:
    cur = row.currency
    counts = dict(
        s.execute(
            select(SettlementItem.kind, func.count(SettlementItem.id))
            .where(SettlementItem.settlement_id == row.id)
            .group_by(SettlementItem.kind)
        ).all()
    )
    return {
        **summary(s, row),
        "vat_rate": row.vat_rate,
        "charge_points": row.charge_points,
        "energy_kwh": row.energy_kwh.quantize(Decimal("0.001")),
        "revenue_net": _amount(row.revenue_net_minor, cur),
        "fee_net": _amount(row.fee_net_minor, cur),
        "terms": json.loads(row.terms),
        "lines": [
            {"description": x["description"], "amount": _amount(x["amount_minor"], cur)}
            for x in json.loads(row.lines)
        ],
        "item_counts": {k: int(v) for k, v in counts.items()},
    }


def items(s: Session, row: Settlement, page: int, size: int) -> Found:
    where = SettlementItem.settlement_id == row.id
    total = s.scalar(select(func.count(SettlementItem.id)).where(where)) or 0
    found = s.scalars(
        select(SettlementItem)
        .where(where)
        .order_by(SettlementItem.kind, SettlementItem.id)
        .offset((page - 1) * size)
        .limit(size)
    ).all()
    return Found([_item(x, row.currency) for x in found], total)


def _item(x: SettlementItem, cur: str) -> dict[str, Any]:
    return {
        "kind": x.kind,
        "origin_period": x.origin_period,
        "net": _amount(x.net_minor, cur),
        "energy_kwh": kwh_of(x.energy_wh),
        "receipt_id": x.receipt_id,
        "refund_id": x.refund_id,
        "session_id": x.session_id,
        "reference": x.reference,
    }


def payout_view(p: Payout, st: Settlement | None = None) -> dict[str, Any]:
    """A payout as both the settlement and the payouts endpoints show it."""
    return {
        "id": p.id,
        "operator_id": p.operator_id,
        "settlement_id": p.settlement_id,
        "period": st.period if st else None,
        "number": st.number if st else None,
        "amount": _amount(p.amount_minor, p.currency),
        "currency": p.currency,
        "method": p.method,
        "status": p.status,
        "reference": p.reference,
        "failure": p.failure,
        "paid_at": p.paid_at,
        "created_at": p.created_at,
    }


# --- documents: the settlement as PDF and its items as CSV ---------------------------------

CSV_COLUMNS = (
    "kind",
    "origin_period",
    "reference",
    "receipt_id",
    "refund_id",
    "session_id",
    "energy_kwh",
    "net",
)


def language_for(s: Session, row: Settlement, requested: str | None) -> str:
    """The language asked for, else the operator's country's (pl for PL, nb for NO),
    else English: a country the app does not speak falls back rather than fails."""
    if requested:
        return requested
    code = get_operator(s, row.operator_id).country
    spoken = countries.COUNTRIES.get(code)
    return spoken.language if spoken is not None else "en"


def document(s: Session, row: Settlement, platform: dict[str, str]) -> dict[str, Any]:
    """What the settlement PDF prints: the detail, both parties and when it was made.
    `platform` is the seller as receipts print it (name, address, tax_id, timezone)."""
    op = get_operator(s, row.operator_id)
    return {
        **detail(s, row),
        "platform": platform,
        "operator": {
            "name": op.name,
            "legal_name": op.legal_name,
            "tax_id": op.tax_id,
            "country": op.country,
            "email": op.email,
            "phone": op.phone,
        },
    }


def all_items(s: Session, row: Settlement) -> Iterator[dict[str, Any]]:
    """Every item, in the portal's order, read in batches: a settlement of a busy
    operator has thousands, and the documents need them all without paging."""
    found = s.scalars(
        select(SettlementItem)
        .where(SettlementItem.settlement_id == row.id)
        .order_by(SettlementItem.kind, SettlementItem.id)
        .execution_options(yield_per=1000)
    )
    for x in found:
        yield _item(x, row.currency)


def items_csv(s: Session, row: Settlement) -> str:
    """Every item as CSV: exact decimals with a point (energy to 0.001 kWh, net to the
    currency's minor unit), ids empty when the item has none."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for x in all_items(s, row):
        writer.writerow(["" if x[c] is None else str(x[c]) for c in CSV_COLUMNS])
    return out.getvalue()


def document_name(row: Settlement) -> str:
    """The settlement number as a file name: ST/2026/000001 → ST-2026-000001."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", row.number)
