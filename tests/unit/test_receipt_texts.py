"""Receipts in three languages: labels, numbers with a decimal comma in Polish and
Norwegian, local times across the DST change, and a PDF that keeps ą ę ł ż ø å."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pypdf import PdfReader

from backend.receipts import pdf, texts
from shared.money import Money


@pytest.mark.parametrize(
    ("language", "amount", "energy", "title"),
    [
        ("pl", "1234,50 PLN", "18,500 kWh", "Rachunek"),  # groups from 5 digits
        ("nb", "1\u00a0234,50 PLN", "18,500 kWh", "Kvittering"),
        ("en", "1,234.50 PLN", "18.500 kWh", "Receipt"),
        ("de", "1,234.50 PLN", "18.500 kWh", "Receipt"),  # unknown: English
    ],
)
def test_numbers_and_labels_per_language(
    language: str, amount: str, energy: str, title: str
) -> None:
    assert texts.money(Money(123450, "PLN"), language) == amount
    assert texts.quantity(Decimal("18.5"), "kWh", language) == energy
    assert texts.label("receipt", language) == title


def test_polish_groups_thousands_from_five_digits() -> None:
    assert texts.number(Decimal("1234.50"), "pl") == "1234,50"
    assert texts.number(Decimal("12345.50"), "pl") == "12\u00a0345,50"
    assert texts.number(Decimal("-25.00"), "pl") == "-25,00"


def test_unit_prices_keep_their_precision() -> None:
    assert texts.unit_price(Decimal("2.4"), "pl") == "2,40"
    assert texts.unit_price(Decimal("0.4815"), "nb") == "0,4815"
    assert texts.quantity(Decimal("50"), "min", "en") == "50 min"


def test_every_language_has_every_label() -> None:
    keys = set(texts.LABELS["en"])
    for language in texts.LANGUAGES:
        assert set(texts.LABELS[language]) == keys, language


def test_times_are_shown_on_the_sites_wall_clock_across_dst() -> None:
    before = datetime(2026, 10, 24, 21, 0, tzinfo=UTC)  # 23:00 CEST
    after = datetime(2026, 10, 25, 6, 0, tzinfo=UTC)  # 07:00 CET
    assert texts.local_time(before, "Europe/Warsaw", "pl", zone=True) == "24.10.2026 23:00 CEST"
    assert texts.local_time(after, "Europe/Warsaw", "pl", zone=True) == "25.10.2026 07:00 CET"
    assert texts.local_time(after, "Europe/Oslo", "en") == "25 Oct 2026 07:00"


def view(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "receipt",
        "number": "WP/2026/000007",
        "title": "Kvittering",
        "issued_at_local": "2026-11-20T23:31:00+01:00",
        "timezone": "Europe/Oslo",
        "currency": "NOK",
        "vat_rate": "0.25",
        "net": "100.00",
        "vat": "25.00",
        "gross": "125.00",
        "seller": {"name": "Wattpass AS", "address": "Storgata 1, Oslo", "tax_id": "NO999"},
        "buyer": {"name": "Åse Ødegård Ærlig", "address": ["Bøgata 2", "0655 Oslo"]},
        "site": {"name": "Borettslaget Løvåsen", "address": ["Løvåsveien 3"]},
        "lines": [
            {
                "kind": "energy",
                "description": "Energi",
                "quantity": "50.000",
                "unit": "kWh",
                "unit_price": "2.50",
                "amount": "125.00",
                "session_id": 1,
            },
        ],
        "sessions": [
            {
                "session_id": 1,
                "charge_point": "CP-1",
                "connector_id": 1,
                "started_at": "2026-11-20T17:00:00+00:00",
                "ended_at": "2026-11-20T22:00:00+00:00",
                "car_full_at": None,
                "meter_start_wh": 5000,
                "meter_stop_wh": 55000,
                "price_version": "site1-group1-r2",
                "plan": None,
            },
        ],
        "card": {"brand": "mastercard", "last4": "4444"},
    }
    return base | overrides


def text_of(data: bytes) -> str:
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    return text.replace("\u00a0", " ")  # thousands are grouped with no-break spaces


def test_the_pdf_embeds_dejavu_and_keeps_norwegian_letters() -> None:
    data = pdf.render_receipt(view(), "nb")
    assert data.startswith(b"%PDF-") and b"DejaVuSans" in data
    reader = PdfReader(io.BytesIO(data))
    fonts = {str(f["/BaseFont"]) for f in reader.pages[0]["/Resources"]["/Font"].values()}
    assert any("DejaVuSans" in name for name in fonts), fonts
    text = text_of(data)
    for expected in (
        "Kvittering",
        "Åse Ødegård Ærlig",
        "Borettslaget Løvåsen",
        "Bøgata 2",
        "50,000 kWh",
        "125,00 NOK",
        "MVA 25 %",
        "Mastercard **** 4444",
        "20.11.2026 18:00",
        "5 000 / 55 000 Wh",
    ):
        assert expected in text, (expected, text)


def test_a_guest_statement_says_who_invoices_it() -> None:
    data = pdf.render_receipt(
        view(
            kind="service_statement",
            title="Zestawienie usługi ładowania",
            card=None,
            invoiced_by={"name": "Hotel Żuraw sp. z o.o."},
        ),
        "pl",
    )
    text = " ".join(text_of(data).split())
    assert "Ładowanie zafakturuje Hotel Żuraw sp. z o.o." in text
    assert "Zapłacono kartą" not in text


def test_a_missing_font_fails_clearly(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setattr(pdf, "FONT_DIR", tmp_path)
    with pytest.raises(pdf.FontMissing, match="DejaVu Sans"):
        pdf.render_receipt(view(), "en")
