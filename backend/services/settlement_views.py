"""Settlements as the operator portal shows them: amounts as exact decimal strings,
every line and item traceable (receipt numbers, refunds, sessions with their energy)."""

from __future__ import annotations

import json
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
        "payout": _payout(payout) if payout is not None else None,
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


def _payout(p: Payout) -> dict[str, Any]:
    return {
        "id": p.id,
        "method": p.method,
        "status": p.status,
        "amount": _amount(p.amount_minor, p.currency),
        "currency": p.currency,
        "reference": p.reference,
        "failure": p.failure,
        "paid_at": p.paid_at,
    }
