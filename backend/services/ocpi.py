"""A site's tariffs in the OCPI 2.2.1 Tariff format, so a roaming partner can show them.

OCPI prices exclude VAT and carry the VAT rate beside them; ours are set gross, so the
net price is derived with four decimals. The idle fee is a PARKING_TIME component (OCPI
prices time per hour, billed in `step_size` seconds: 60 = per minute) restricted to the
site's window in local time, as OCPI's start_time/end_time are. OCPI has no notion of a
company price group: its tariff is published without a `type` and says so in its text.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from backend.db.models import PriceGroup, Site
from backend.db.models.pricing import PriceVersion as PriceRow

PARTY_ID = "WPS"
_DEC = re.compile(r'"__decimal__(-?[0-9.]+)__"')


def _net(gross: Decimal, vat_rate: Decimal) -> Decimal:
    return (gross / (1 + vat_rate)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _num(value: Decimal) -> str:
    return f"__decimal__{value}__"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def tariff(
    site: Site,
    group: PriceGroup,
    row: PriceRow,
    next_from: datetime | None,
    plan_price: Decimal | None,
) -> dict[str, Any]:
    vat = _num((row.vat_rate * 100).quantize(Decimal("0.01")))
    energy_gross = (
        plan_price if row.model == "platform_plan" and plan_price else (row.energy_per_kwh)
    )
    elements: list[dict[str, Any]] = [
        {
            "price_components": [
                {
                    "type": "ENERGY",
                    "price": _num(_net(energy_gross, row.vat_rate)),
                    "vat": vat,
                    "step_size": 1,
                }
            ]
        }
    ]
    if row.model == "fixed_with_idle" and row.idle_per_minute > 0:
        parking: dict[str, Any] = {
            "price_components": [
                {
                    "type": "PARKING_TIME",
                    "price": _num(_net(row.idle_per_minute * 60, row.vat_rate)),
                    "vat": vat,
                    "step_size": 60,
                }
            ]
        }
        if row.idle_window_start and row.idle_window_end:
            parking["restrictions"] = {
                "start_time": row.idle_window_start,
                "end_time": row.idle_window_end,
            }
        elements.insert(0, parking)  # OCPI applies the first element whose restrictions hold
    texts = [f"{group.name}: {energy_gross} {row.currency}/kWh incl. VAT"]
    if row.model == "fixed_with_idle" and row.idle_per_minute > 0:
        window = (
            f" {row.idle_window_start}–{row.idle_window_end} ({site.timezone})"
            if row.idle_window_start
            else ""
        )
        grace = f" after {row.idle_grace_minutes} free minutes" if row.idle_grace_minutes else ""
        texts.append(
            f"idle fee {row.idle_per_minute} {row.currency}/min once the car is full{window}{grace}"
        )
    if row.model == "variable_cost":
        texts.append("the real electricity cost per kWh of the month, settled monthly")
    body: dict[str, Any] = {
        "country_code": site.country,
        "party_id": PARTY_ID,
        "id": f"S{site.id}-G{group.id}-R{row.revision}",
        "currency": row.currency,
        "tariff_alt_text": [{"language": "en", "text": "; ".join(texts)}],
        "elements": elements,
        "start_date_time": _iso(row.effective_from),
        "last_updated": _iso(row.created_at),
    }
    if group.kind == "public":
        body["type"] = "REGULAR"
    if next_from is not None:
        body["end_date_time"] = _iso(next_from)
    return body


def dumps(obj: Any) -> str:
    """JSON with OCPI's decimal numbers written exactly (never through a float)."""
    return _DEC.sub(r"\1", json.dumps(obj, ensure_ascii=False))
