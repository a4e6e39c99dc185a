"""An operator's settlement as a B2B PDF (domain.md §2, §5 Settlement), in pl, en or nb.

Same fonts and number formats as receipts (pdf.py, texts.py): DejaVu Sans, so Polish
and Norwegian letters print. Who is whom follows the money: for a payout the platform
states what it owes the operator (self-billing style: the platform issues, the operator
is the payee); for an invoice (the hotel case) the platform sells its fee to the
operator; a carried balance names the two parties only.

The items table is drawn row by row with `cell` rather than fpdf's `table()`: a busy
operator's settlement has thousands of items, and plain cells with the headings
repeated on each new page stay fast and flat in memory. Every amount is the stored
exact decimal (from integer minor units); nothing here does arithmetic on floats.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from fpdf.enums import XPos, YPos

from backend.receipts import settlement_texts as st
from backend.receipts import texts
from backend.receipts.pdf import FONT, _Document
from shared import countries
from shared.money import Money

WIDTH = 174  # A4 less the 18 mm margins
ITEM_COLUMNS = (  # (label, width, align)
    ("kind", 22, "L"),
    ("reference", 58, "L"),
    ("session", 18, "R"),
    ("energy", 26, "R"),
    ("origin", 20, "C"),
    ("net", 30, "R"),
)
ROW_H = 4.6


class _Settlement(_Document):
    """A document whose pages say which settlement they belong to and how many there are."""

    footer_text = ""
    reader = texts.DEFAULT_LANGUAGE

    def footer(self) -> None:
        # "{nb}" is fpdf's alias for the page count, filled in when the PDF is output.
        page = st.label("page", self.reader, page=self.page_no(), pages="{nb}")
        self.set_y(-12)
        self.set_font(FONT, "", 7)
        self.cell(0, 4, f"{self.footer_text} · {page}", align="R")


def _day(value: Any, language: str) -> str:
    """A calendar day as the reader writes it (texts.local_time without the time)."""
    d = date.fromisoformat(str(value)[:10])
    midnight = datetime(d.year, d.month, d.day, tzinfo=UTC)
    return texts.local_time(midnight, "UTC", language).rsplit(" ", 1)[0]


def _money(amount: str, cur: str, lang: str) -> str:
    return texts.money(Money.of(amount, cur), lang)


def _parties(doc: dict[str, Any], lang: str) -> tuple[list[str], list[str]]:
    plat, op = doc["platform"], doc["operator"]
    label, tax = st.label, texts.label("tax_id", lang)
    platform = [plat["name"], plat.get("address", ""), f"{tax}: {plat['tax_id']}"]
    legal = op["legal_name"] or op["name"]
    operator = [legal]
    if op["legal_name"] and op["name"] != op["legal_name"]:
        operator.append(f"{label('trade_name', lang)}: {op['name']}")
    known = countries.COUNTRIES.get(op["country"])
    operator.append(known.name if known is not None else op["country"])
    operator += [x for x in (op["email"], op["phone"]) if x]
    if op["tax_id"]:
        operator.append(f"{tax}: {op['tax_id']}")
    heads = {
        "payout": (label("payer", lang), label("payee", lang)),
        "invoice": (texts.label("seller", lang), texts.label("buyer", lang)),
    }.get(doc["direction"], (label("platform", lang), label("operator", lang)))
    return [heads[0], *filter(None, platform)], [heads[1], *operator]


def _terms(doc: dict[str, Any], lang: str) -> list[str]:
    terms, cur, label = doc["terms"], doc["currency"], st.label
    num = texts.number
    out = [f"{label('business_case', lang)}: {doc['business_case']}"]
    if Decimal(terms.get("fee_percent") or 0):
        percent = num(Decimal(terms["fee_percent"]).normalize(), lang)
        out.append(f"{label('fee_percent', lang)}: {percent} %")
    if Decimal(terms.get("fee_fixed_per_cp") or 0):
        out.append(f"{label('fee_fixed', lang)}: {_money(terms['fee_fixed_per_cp'], cur, lang)}")
    if Decimal(terms.get("fee_per_kwh_net") or 0):
        per_kwh = texts.unit_price(Decimal(terms["fee_per_kwh_net"]), lang)
        out.append(f"{label('fee_per_kwh', lang)}: {per_kwh} {cur}/kWh")
    if terms.get("agreed_price_per_kwh_net") is not None:
        agreed = texts.unit_price(Decimal(terms["agreed_price_per_kwh_net"]), lang)
        out.append(f"{label('agreed', lang)}: {agreed} {cur}/kWh")
    if terms.get("valid_from"):
        until = _day(terms["valid_to"], lang) if terms.get("valid_to") else "…"
        out.append(f"{label('valid', lang)}: {_day(terms['valid_from'], lang)} – {until}")
    out.append(f"{label('charge_points', lang)}: {doc['charge_points']}")
    out.append(
        f"{label('energy', lang)}: {texts.quantity(Decimal(doc['energy_kwh']), 'kWh', lang)}"
    )
    return out


def _amount_row(pdf: _Settlement, text: str, amount: str, style: str = "") -> None:
    pdf.set_font(FONT, style, 10)
    pdf.cell(WIDTH - 34, 6, text, align="R")
    pdf.cell(34, 6, amount, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _totals(pdf: _Settlement, doc: dict[str, Any], lang: str) -> None:
    cur, label = doc["currency"], texts.label
    pdf.set_font(FONT, "B", 10)
    pdf.cell(0, 6, st.label("lines", lang), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for x in doc["lines"]:
        _amount_row(pdf, st.line(x["description"], lang), _money(x["amount"], cur, lang))
    pdf.ln(1)
    if doc["direction"] == "carried":
        _amount_row(pdf, st.label("carried", lang), _money(doc["net"], cur, lang), "B")
        return
    rate = texts.number((Decimal(doc["vat_rate"]) * 100).normalize(), lang)
    _amount_row(pdf, label("net", lang), _money(doc["net"], cur, lang))
    _amount_row(pdf, f"{label('vat', lang)} {rate} %", _money(doc["vat"], cur, lang))
    _amount_row(pdf, label("gross", lang), _money(doc["gross"], cur, lang), "B")


def _payout(pdf: _Settlement, payout: dict[str, Any] | None, lang: str) -> None:
    if not payout:
        return
    label = st.label
    parts = [
        f"{label('payout', lang)}: {_money(payout['amount'], payout['currency'], lang)}",
        f"{label('method', lang)}: {st.word(payout['method'], lang)}",
        f"{label('status', lang)}: {st.word(payout['status'], lang)}",
    ]
    if payout.get("reference"):
        parts.append(f"{label('reference', lang)}: {payout['reference']}")
    if payout.get("paid_at"):
        paid = payout["paid_at"]
        moment = paid if isinstance(paid, datetime) else datetime.fromisoformat(str(paid))
        parts.append(f"{label('paid_at', lang)}: {texts.local_time(moment, 'UTC', lang)} UTC")
    pdf.text_line(" · ".join(parts), size=9, style="B")


def _fit(pdf: _Settlement, text: str, width: float) -> str:
    """Cut `text` to fit a column (long price-version references would spill over)."""
    if pdf.get_string_width(text) <= width - 2:
        return text
    while text and pdf.get_string_width(text + "…") > width - 2:
        text = text[:-1]
    return text + "…"


def _item_headings(pdf: _Settlement, lang: str) -> None:
    pdf.set_font(FONT, "B", 8)
    pdf.set_fill_color(235, 235, 235)
    for key, width, align in ITEM_COLUMNS:
        # The receipts' short "Energy" and "Net" fit the columns; the rest are ours.
        text = texts.label(key, lang) if key in ("energy", "net") else st.label(key, lang)
        pdf.cell(width, ROW_H + 0.8, text, border="B", align=align, fill=True)
    pdf.ln(ROW_H + 0.8)
    pdf.set_font(FONT, "", 8)


def _items(pdf: _Settlement, items: Iterable[dict[str, Any]], cur: str, lang: str) -> None:
    pdf.ln(3)
    pdf.text_line(st.label("items", lang), size=11, style="B", h=6)
    _item_headings(pdf, lang)
    count, total = 0, Money.zero(cur)
    for x in items:
        if pdf.get_y() + ROW_H > pdf.page_break_trigger:
            pdf.add_page()
            _item_headings(pdf, lang)
        reference = x["reference"] or (f"#{x['refund_id']}" if x.get("refund_id") else "")
        energy = Decimal(x["energy_kwh"])
        values = (
            st.word(x["kind"], lang),
            reference,
            f"#{x['session_id']}" if x.get("session_id") else "",
            texts.quantity(energy, "kWh", lang) if energy else "",
            x["origin_period"],
            _money(x["net"], cur, lang),
        )
        for (_, width, align), value in zip(ITEM_COLUMNS, values, strict=True):
            pdf.cell(width, ROW_H, _fit(pdf, value, width), align=align)
        pdf.ln(ROW_H)
        count += 1
        total = total + Money.of(x["net"], cur)
    pdf.set_font(FONT, "B", 8)
    pdf.cell(WIDTH - 30, ROW_H + 1, st.label("count", lang, n=count), border="T")
    pdf.cell(30, ROW_H + 1, texts.money(total, lang), border="T", align="R")
    pdf.ln(ROW_H + 1)


def render_settlement(doc: dict[str, Any], items: Iterable[dict[str, Any]], language: str) -> bytes:
    """The PDF of a settlement document (settlement_views.document) and its items
    (settlement_views.all_items, any iterable: read as the pages are drawn)."""
    lang = texts.language_of(language)
    title = st.title(doc["direction"], lang)
    created = doc["created_at"]
    created = created if isinstance(created, datetime) else datetime.fromisoformat(created)
    pdf = _Settlement(f"{title} {doc['number']}", created, lang)
    pdf.reader = lang
    pdf.footer_text = doc["number"]
    tz = doc["platform"].get("timezone") or "UTC"

    pdf.text_line(title, size=15, style="B", h=8)
    pdf.text_line(f"{texts.label('number', lang)} {doc['number']}", size=11, style="B", h=6)
    pdf.text_line(f"{texts.label('issued', lang)}: {texts.local_time(created, tz, lang)}")
    first, last = _day(doc["period_start"], lang), _day(doc["period_end"], lang)
    pdf.text_line(f"{texts.label('period', lang)}: {doc['period']} ({first} – {last})")
    pdf.text_line(st.note(doc["direction"], lang), size=8)
    pdf.ln(3)
    pdf.two_columns(*_parties(doc, lang))

    pdf.text_line(st.label("contract", lang), size=10, style="B", h=6)
    for text in _terms(doc, lang):
        pdf.text_line(text, size=8.5, h=4.4)
    cur = doc["currency"]
    pdf.text_line(
        f"{st.label('revenue', lang)}: {_money(doc['revenue_net'], cur, lang)} · "
        f"{st.label('fee', lang)}: {_money(doc['fee_net'], cur, lang)}",
        size=8.5,
        h=4.4,
    )
    pdf.ln(3)
    _totals(pdf, doc, lang)
    pdf.ln(2)
    _payout(pdf, doc.get("payout"), lang)
    _items(pdf, items, cur, lang)
    return bytes(pdf.output())
