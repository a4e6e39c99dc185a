"""Reading documents: a driver's own (another's is "not found", like a missing one) and
the view the JSON and the PDF are made from, in the reader's language."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.models import Driver, Receipt
from backend.errors import NotFound
from backend.receipts import texts
from backend.services.visibility import valid_id
from shared.money import Money


@dataclass(frozen=True)
class Page:
    items: list[Receipt]
    total: int


def list_for_driver(s: Session, driver_id: int, page: int, page_size: int) -> Page:
    """The driver's documents, newest first."""
    where = Receipt.driver_id == driver_id
    total = s.scalar(select(func.count(Receipt.id)).where(where)) or 0
    items = s.scalars(
        select(Receipt)
        .where(where)
        .order_by(Receipt.issued_at.desc(), Receipt.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return Page(list(items), int(total))


def own_receipt(s: Session, driver_id: int, receipt_id: int) -> Receipt:
    receipt = s.get(Receipt, receipt_id) if valid_id(receipt_id) else None
    if receipt is None or receipt.driver_id != driver_id:
        raise NotFound("No such receipt.")
    return receipt


def language_for(s: Session, driver_id: int, asked: str | None = None) -> str:
    """The language asked for, else the driver's own (their profile), else English."""
    if asked:
        return texts.language_of(asked)
    driver = s.get(Driver, driver_id)
    return texts.language_of(driver.language if driver is not None else None)


def _amount(minor: int, currency: str) -> str:
    return f"{Money(minor, currency).amount}"


def _local(iso: str | None, tz: str) -> str | None:
    if not iso:
        return None
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(tz)).isoformat()


def describe(line: dict[str, Any], language: str) -> str:
    """A line's description in the reader's language, with what set its price."""
    kind = line["kind"]
    text = texts.label(kind if kind in ("energy", "idle", "refund") else "energy", language)
    if line.get("plan"):
        text += f" — {texts.label('plan', language)} {line['plan']['name']}"
    if kind == "refund" and line.get("corrects"):
        text += f" — {texts.label('corrects', language)} {line['corrects']}"
    return text


def summary(r: Receipt) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "number": r.number,
        "issued_at": r.issued_at,
        "currency": r.currency,
        "gross": _amount(r.gross_minor, r.currency),
        "session_id": r.session_id,
        "period": r.period,
    }


def view(r: Receipt, language: str) -> dict[str, Any]:
    """Everything a receipt shows, JSON-ready; amounts as decimal strings."""
    content = json.loads(r.content)
    tz, cur = r.timezone, r.currency
    lines = [
        {
            "kind": line["kind"],
            "description": describe(line, language),
            "session_id": line.get("session_id"),
            "quantity": line["quantity"],
            "unit": line["unit"],
            "unit_price": line["unit_price"],
            "amount": _amount(int(line["amount_minor"]), cur),
            "price_version": line.get("price_version"),
            "plan": line.get("plan"),
        }
        for line in content.get("lines", [])
    ]
    sessions = [
        {
            **item,
            "started_at_local": _local(item.get("started_at"), tz),
            "car_full_at_local": _local(item.get("car_full_at"), tz),
            "ended_at_local": _local(item.get("ended_at"), tz),
        }
        for item in content.get("sessions", [])
    ]
    return {
        **summary(r),
        "title": texts.label(r.kind, language),
        "language": language,
        "issued_at_local": r.issued_at.astimezone(ZoneInfo(tz)).isoformat(),
        "timezone": tz,
        "vat_rate": str(r.vat_rate),
        "net": _amount(r.net_minor, cur),
        "vat": _amount(r.vat_minor, cur),
        "seller": content.get("seller", {}),
        "buyer": content.get("buyer", {}),
        "site": content.get("site", {}),
        "invoiced_by": content.get("invoiced_by"),
        "lines": lines,
        "sessions": sessions,
        "card": {"brand": r.card_brand, "last4": r.card_last4} if r.card_last4 else None,
        "payment_id": r.payment_id,
        "corrects": content.get("corrects"),
        "refund": content.get("refund"),
    }
