"""The pure parts of receipts: numbers, lines, the VAT split per document (domain.md §5)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

import pytest

from backend.services import receipts_lines as rl
from shared.idle import IdleWindow
from shared.money import Money
from shared.pricing import Plan, PriceVersion, PricingModel, Usage, price_session

WARSAW = "Europe/Warsaw"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def hotel() -> PriceVersion:
    return PriceVersion(
        "site1-group2-r1",
        T0,
        PricingModel.FIXED_WITH_IDLE,
        "PLN",
        Decimal("0.23"),
        energy_per_kwh=Decimal("2.40"),
        idle_per_minute=Decimal("0.50"),
        idle_window=IdleWindow(time(8), time(22), WARSAW),
    )


def at(h: int, m: int = 0, day: int = 20) -> datetime:
    return datetime(2026, 11, day, h - 1, m, tzinfo=UTC)  # Warsaw is UTC+1 in November


# --- numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "series", "number"),
    [
        ("receipt", "WP", "WP/2026/000123"),
        ("correction", "WP/KOR", "WP/KOR/2026/000123"),
        ("service_statement", "WP/S", "WP/S/2026/000123"),
    ],
)
def test_each_kind_has_its_own_series(kind: str, series: str, number: str) -> None:
    assert rl.series_of("WP", kind) == series
    assert rl.format_number(series, 2026, 123) == number
    assert rl.parse_number(number) == (series, 2026, 123)


def test_numbers_are_zero_padded_and_grow_past_the_padding() -> None:
    assert rl.format_number("WP", 2026, 1) == "WP/2026/000001"
    assert rl.format_number("WP", 2026, 1_234_567) == "WP/2026/1234567"
    with pytest.raises(ValueError):
        rl.format_number("WP", 2026, 0)
    with pytest.raises(ValueError):
        rl.parse_number("WP-2026-1")


# --- lines -----------------------------------------------------------------------------------


def test_hotel_lines_are_energy_and_billable_idle_minutes() -> None:
    priced = price_session(Usage(1_000_000, 1_018_500, at(20), at(23, 30), at(21, 10)), hotel())
    lines = rl.lines_of(priced)
    assert [
        (x["kind"], x["quantity"], x["unit"], x["unit_price"], x["amount_minor"]) for x in lines
    ] == [
        ("energy", "18.500", "kWh", "2.40", 4440),
        ("idle", "50", "min", "0.50", 2500),
    ]
    assert lines[1]["idle_minutes"] == 140 and lines[1]["billable_minutes"] == 50
    assert all(x["price_version"] == "site1-group2-r1" for x in lines)


def test_a_plan_line_names_the_plan() -> None:
    pub = PriceVersion("pub-r1", T0, PricingModel.PLATFORM_PLAN, "PLN", Decimal("0.23"))
    plus = Plan("plus", "Plus", "PLN", Decimal("1.99"), Decimal("29.00"))
    [line] = rl.lines_of(price_session(Usage(0, 25_000, at(10), at(11)), pub, plus), "Plus")
    assert (line["unit_price"], line["amount_minor"], line["plan"]) == (
        "1.99",
        4975,
        {"code": "plus", "name": "Plus"},
    )


def test_each_line_is_rounded_half_up_on_its_own() -> None:
    # 1.001 kWh × 2.45 = 2.45245 → 2.45; 0.333 kWh × 1.50 = 0.4995 → 0.50 (half up)
    fixed = PriceVersion("v", T0, PricingModel.FIXED, "PLN", Decimal("0.23"), Decimal("2.45"))
    [line] = rl.lines_of(price_session(Usage(0, 1_001, at(10), at(11)), fixed))
    assert line["amount_minor"] == 245
    cheap = PriceVersion("v", T0, PricingModel.FIXED, "PLN", Decimal("0.23"), Decimal("1.50"))
    [line] = rl.lines_of(price_session(Usage(0, 333, at(10), at(11)), cheap))
    assert line["amount_minor"] == 50


# --- VAT per document -------------------------------------------------------------------------


def test_vat_is_split_once_over_the_document() -> None:
    lines = [{"amount_minor": 4440}, {"amount_minor": 2500}]
    split = rl.document_split(lines, "PLN", Decimal("0.23"))
    assert (split.gross, split.net, split.vat) == (
        Money(6940, "PLN"),
        Money(5642, "PLN"),
        Money(1298, "PLN"),
    )


def test_a_month_splits_its_total_not_each_session() -> None:
    """Per session 60.00 → 48.78 and 120.00 → 97.56 (146.34); the month's 180.00 splits
    into 146.34 + 33.66. Where per-line splits would drift, the document's split wins."""
    month = rl.document_split(
        [{"amount_minor": 6000}, {"amount_minor": 12000}], "PLN", Decimal("0.23")
    )
    assert (month.net.minor, month.vat.minor) == (14634, 3366)
    tiny = [{"amount_minor": 1}] * 3  # 0.01 each: nets 0.01 each, but 0.03 nets 0.02
    assert rl.document_split(tiny, "PLN", Decimal("0.23")).net.minor == 2


def test_norway_uses_its_own_rate() -> None:
    split = rl.document_split([{"amount_minor": 12500}], "NOK", Decimal("0.25"))
    assert (split.net.minor, split.vat.minor) == (10000, 2500)


def test_a_refund_line_is_negative_and_names_the_receipt() -> None:
    line = rl.refund_line(Money(2500, "PLN"), "WP/2026/000001")
    assert (line["amount_minor"], line["unit_price"], line["corrects"]) == (
        -2500,
        "-25.00",
        "WP/2026/000001",
    )
    split = rl.document_split([line], "PLN", Decimal("0.23"))
    assert (split.net.minor, split.vat.minor) == (-2033, -467)
