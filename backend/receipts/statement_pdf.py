"""The operator's per-code guest statement as PDF (same fonts and formats as receipts)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from backend.receipts import texts
from backend.receipts.pdf import FONT, HEADINGS, _Document
from shared.money import Money


def render_statement(data: dict[str, Any], language: str) -> bytes:
    lang = texts.language_of(language)
    label = texts.label
    cur = data["currency"]
    title = label("statement", lang)
    pdf = _Document(f"{title} {data['period']}", datetime(2000, 1, 1, tzinfo=UTC), lang)
    pdf.text_line(title, size=16, style="B", h=8)
    pdf.text_line(data["operator"]["name"], size=11, style="B", h=6)
    pdf.text_line(f"{label('period', lang)}: {data['period']}")
    pdf.ln(3)
    for group in data["codes"]:
        code = group["code"]
        name = f"{code['label'] or ''} (…{code['hint']})" if code else "—"
        pdf.text_line(f"{label('code', lang)}: {name}", size=10, style="B", h=6)
        pdf.set_font(FONT, "", 8)
        with pdf.table(
            col_widths=(12, 40, 32, 24, 23, 21, 26),
            text_align=("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
            line_height=4.6,
            headings_style=HEADINGS,
        ) as table:
            head = table.row()
            for key in ("session", "driver", "plugged_in", "energy", "net", "vat", "gross"):
                head.cell(label(key, lang))
            for item in group["sessions"]:
                row = table.row()
                row.cell(f"#{item['session_id']}")
                row.cell(item["guest"]["name"] or item["guest"]["email"])
                tz = (item.get("site") or {}).get("timezone") or "UTC"
                started = datetime.fromisoformat(item["started_at"])
                row.cell(texts.local_time(started, tz, lang))
                row.cell(texts.quantity(Decimal(item["energy_kwh"]), "kWh", lang))
                for key in ("net", "vat", "gross"):
                    row.cell(texts.money(Money.of(item[key], cur), lang))
        totals = group["totals"]
        pdf.text_line(
            f"{label('total', lang)}: {texts.money(Money.of(totals['gross'], cur), lang)} "
            f"({label('net', lang)} {texts.money(Money.of(totals['net'], cur), lang)} + "
            f"{label('vat', lang)} {texts.money(Money.of(totals['vat'], cur), lang)})",
            style="B",
        )
        pdf.ln(3)
    totals = data["totals"]
    pdf.text_line(
        f"{label('total', lang)} ({totals['sessions']} × {label('session', lang).lower()}): "
        f"{texts.money(Money.of(totals['gross'], cur), lang)} "
        f"({label('net', lang)} {texts.money(Money.of(totals['net'], cur), lang)} + "
        f"{label('vat', lang)} {texts.money(Money.of(totals['vat'], cur), lang)})",
        size=11,
        style="B",
    )
    return bytes(pdf.output())
