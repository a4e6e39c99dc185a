"""The pure parts of a receipt: its lines, its VAT split, its number (no I/O).

domain.md §5: each line is rounded half up to 0.01 on its own (energy kWh × price,
billable idle minutes × price); prices are gross, so a document derives
net = round(gross / (1 + VAT)) and VAT = gross − net once, over the document's total.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Final

from shared.money import Money
from shared.pricing import PricedSession
from shared.vat import VatSplit, from_gross

RECEIPT, CORRECTION, SERVICE_STATEMENT = "receipt", "correction", "service_statement"
KINDS: Final = (RECEIPT, CORRECTION, SERVICE_STATEMENT)
# The part of the series after the seller's prefix: WP/2026/000123, WP/KOR/2026/000001.
_SERIES_SUFFIX: Final = {RECEIPT: "", CORRECTION: "KOR", SERVICE_STATEMENT: "S"}
_NUMBER = re.compile(r"^(?P<series>[A-Z0-9]+(?:/[A-Z]+)?)/(?P<year>\d{4})/(?P<seq>\d{6,})$")


def series_of(prefix: str, kind: str) -> str:
    """Each kind of document is numbered in its own series, per seller (the prefix)."""
    suffix = _SERIES_SUFFIX[kind]
    return f"{prefix}/{suffix}" if suffix else prefix


def format_number(series: str, year: int, seq: int) -> str:
    if seq < 1:
        raise ValueError("Document numbers start at 1.")
    return f"{series}/{year}/{seq:06d}"


def parse_number(number: str) -> tuple[str, int, int]:
    m = _NUMBER.match(number)
    if m is None:
        raise ValueError(f"{number!r} is not a document number.")
    return m["series"], int(m["year"]), int(m["seq"])


def lines_of(priced: PricedSession, plan_name: str | None = None) -> list[dict[str, Any]]:
    """The document lines of a priced session, as stored with its charge (JSON-ready).

    `source` says what set the price: the driver's plan (PUB) or the operator's version.
    """
    out = []
    for line in priced.lines:
        item: dict[str, Any] = {
            "kind": line.kind,
            "quantity": str(line.quantity),
            "unit": line.unit,
            "unit_price": str(line.unit_price),
            "amount_minor": line.amount.minor,
            "price_version": priced.version_id,
        }
        plan = priced.plan
        if line.kind == "energy" and plan is not None and priced.source.startswith("plan"):
            item["plan"] = {"code": plan.code, "name": plan_name or plan.name}
        if line.kind == "idle":
            idle = priced.idle
            item["billable_minutes"] = priced.idle_minutes
            if idle is not None:
                item["idle_minutes"] = idle.idle_minutes
        out.append(item)
    return out


def with_session(lines: Iterable[Mapping[str, Any]], session_id: int) -> list[dict[str, Any]]:
    """Lines of several sessions on one document (a month) say whose they are."""
    return [{**line, "session_id": session_id} for line in lines]


def document_split(lines: Iterable[Mapping[str, Any]], currency: str, rate: Decimal) -> VatSplit:
    """The VAT split of one document: over the sum of its (already rounded) gross lines."""
    gross = Money(sum(int(line["amount_minor"]) for line in lines), currency)
    return from_gross(gross, rate)


def refund_line(amount: Money, receipt_number: str) -> dict[str, Any]:
    """A correction note's line: money given back on the receipt it corrects."""
    return {
        "kind": "refund",
        "quantity": "1",
        "unit": "",
        "unit_price": str(-amount.amount),
        "amount_minor": -amount.minor,
        "corrects": receipt_number,
    }
