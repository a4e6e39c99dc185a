"""Receipts as PDF (fpdf2), in the driver's language, with DejaVu Sans.

fpdf2's core fonts cannot print ą ę ł ż ø å (stack-notes): the TrueType DejaVu Sans
shipped in backend/receipts/fonts/ (with its licence) is embedded instead, so Polish
and Norwegian names and words come out as they are written.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from backend.receipts import texts
from shared.money import Money

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVu"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
HEADINGS = FontFace(emphasis="BOLD", fill_color=(235, 235, 235))


class FontMissing(RuntimeError):
    """The TrueType font receipts need is not where the package ships it."""


def font_paths() -> dict[str, Path]:
    paths = {style: FONT_DIR / name for style, name in FONT_FILES.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise FontMissing(
            "Receipts need the DejaVu Sans TrueType fonts (Polish and Norwegian letters); "
            f"missing: {', '.join(missing)}. They ship with the package in "
            "backend/receipts/fonts/ (from Debian's fonts-dejavu-core, "
            "/usr/share/fonts/truetype/dejavu/): reinstall the package or copy them there."
        )
    return paths


class _Document(FPDF):
    def __init__(self, title: str, issued_at: datetime, language: str) -> None:
        super().__init__(format="A4")
        for style, path in font_paths().items():
            self.add_font(FONT, style, str(path))
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(True, 16)
        self.set_title(title)
        self.set_author("Wattpass")
        self.set_lang(language)
        self.set_creation_date(issued_at)
        self.add_page()

    def text_line(self, text: str, size: float = 9, style: str = "", h: float = 4.6) -> None:
        self.set_font(FONT, style, size)
        self.multi_cell(0, h, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def two_columns(self, left: Sequence[str], right: Sequence[str]) -> None:
        """Seller | buyer: the first line of each bold."""
        width = (self.w - self.l_margin - self.r_margin) / 2
        top = self.get_y()
        bottom = top
        for i, column in enumerate((left, right)):
            self.set_xy(self.l_margin + i * width, top)
            for j, text in enumerate(column):
                self.set_font(FONT, "B" if j == 0 else "", 9)
                self.set_x(self.l_margin + i * width)
                self.multi_cell(width - 4, 4.6, text, new_x=XPos.LEFT, new_y=YPos.NEXT)
            bottom = max(bottom, self.get_y())
        self.set_xy(self.l_margin, bottom + 3)


def _party(title: str, party: dict[str, Any], language: str) -> list[str]:
    out = [title]
    if party.get("name"):
        out.append(party["name"])
    address = party.get("address")
    out += address if isinstance(address, list) else ([address] if address else [])
    if party.get("tax_id"):
        out.append(f"{texts.label('tax_id', language)}: {party['tax_id']}")
    if party.get("email"):
        out.append(party["email"])
    return out


def _session_lines(item: dict[str, Any], tz: str, language: str) -> list[str]:
    def when(key: str) -> str:
        value = item.get(key)
        return texts.local_time(datetime.fromisoformat(value), tz, language) if value else "—"

    label = texts.label
    out = [
        f"{label('session', language)} #{item['session_id']} · "
        f"{label('charge_point', language)} {item.get('charge_point', '')}"
        + (f" / {item['connector_id']}" if item.get("connector_id") else ""),
        f"{label('plugged_in', language)}: {when('started_at')} · "
        + (
            f"{label('car_full', language)}: {when('car_full_at')} · "
            if item.get("car_full_at")
            else ""
        )
        + f"{label('unplugged', language)}: {when('ended_at')}",
        f"{label('meter', language)}: {texts.number(Decimal(item['meter_start_wh']), language)}"
        f" / {texts.number(Decimal(item['meter_stop_wh']), language)} Wh · "
        f"{label('price_version', language)}: {item.get('price_version', '')}",
    ]
    if item.get("plan"):
        out[-1] += f" · {label('plan', language)}: {item['plan']}"
    return out


def render_receipt(view: dict[str, Any], language: str) -> bytes:
    """The PDF of a document view (backend.services.receipts_view.view)."""
    lang = texts.language_of(language)
    label = texts.label
    cur, tz = view["currency"], view["timezone"]
    issued = datetime.fromisoformat(view["issued_at_local"])
    pdf = _Document(f"{view['title']} {view['number']}", issued, lang)

    pdf.text_line(view["title"], size=16, style="B", h=8)
    pdf.text_line(f"{label('number', lang)} {view['number']}", size=11, style="B", h=6)
    pdf.text_line(f"{label('issued', lang)}: {texts.local_time(issued, tz, lang, zone=True)}")
    if view.get("period"):
        pdf.text_line(f"{label('period', lang)}: {view['period']}")
    if view.get("corrects"):
        pdf.text_line(f"{label('corrects', lang)}: {view['corrects']['number']}", style="B")
    pdf.ln(3)
    pdf.two_columns(
        _party(label("seller", lang), view["seller"], lang),
        _party(label("buyer", lang), view["buyer"], lang),
    )
    site = view.get("site") or {}
    if site:
        place = ", ".join([site.get("name", ""), *site.get("address", [])])
        pdf.text_line(f"{label('site', lang)}: {place}", style="B")
    for item in view.get("sessions", []):
        for text in _session_lines(item, tz, lang):
            pdf.text_line(text, size=8, h=4.2)
    pdf.text_line(f"{label('times_in', lang)}: {tz}", size=7, h=4)
    pdf.ln(3)

    pdf.set_font(FONT, "", 9)
    with pdf.table(
        col_widths=(82, 28, 38, 30),
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
        line_height=5.5,
        headings_style=HEADINGS,
    ) as table:
        head = table.row()
        for key in ("description", "quantity", "unit_price", "amount"):
            head.cell(label(key, lang))
        for line in view["lines"]:
            row = table.row()
            session = (
                f" (#{line['session_id']})"
                if line.get("session_id") and len(view.get("sessions", [])) > 1
                else ""
            )
            row.cell(line["description"] + session)
            row.cell(texts.quantity(Decimal(line["quantity"]), line["unit"], lang))
            per = f" {cur}/{line['unit']}" if line["unit"] else ""
            row.cell(texts.unit_price(Decimal(line["unit_price"]), lang) + per)
            row.cell(texts.money(Money.of(line["amount"], cur), lang))
    pdf.ln(2)
    rate = (Decimal(view["vat_rate"]) * 100).normalize()
    for key, amount, style in (
        ("net", view["net"], ""),
        ("vat", view["vat"], ""),
        ("gross", view["gross"], "B"),
    ):
        text = label(key, lang) + (f" {texts.number(rate, lang)} %" if key == "vat" else "")
        pdf.set_font(FONT, style, 10)
        pdf.cell(148, 6, text, align="R")
        pdf.cell(
            30,
            6,
            texts.money(Money.of(amount, cur), lang),
            align="R",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    pdf.ln(2)
    pdf.text_line(label("prices_gross", lang), size=8)
    if view.get("card"):
        card = texts.card(view["card"]["brand"], view["card"]["last4"])
        pdf.text_line(f"{label('paid_card', lang)}: {card}", size=9)
    if view["kind"] == "service_statement":
        operator = (view.get("invoiced_by") or {}).get("name", "")
        pdf.ln(2)
        pdf.text_line(label("not_a_receipt", lang, operator=operator), size=10, style="B")
    return bytes(pdf.output())
