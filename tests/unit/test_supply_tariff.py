"""Supply tariff (domain.md §4 and the §6 worked examples)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from shared.money import Money
from shared.supply_tariff import (
    InvoiceForm,
    SupplyTariffError,
    bundled_tariffs,
    may_change_group,
    months_started,
    parse_tariff,
    qualify_group,
    settle_forecast,
    supply_invoice,
    tariff_in_force,
)

NOV = (date(2026, 11, 1), date(2026, 11, 30))


def pln(s: str) -> Money:
    return Money.of(s, "PLN")


@pytest.fixture
def enea():
    return tariff_in_force(bundled_tariffs(), date(2026, 11, 1))


@pytest.mark.parametrize(
    ("kv", "kw", "fuse", "group"),
    [
        ("0.4", "22", "40", "C11em"),
        ("0.4", "30", "80", "C21em"),
        ("15", "40", None, "B11em"),
        ("0.4", "40", "63", "C11em"),
        ("0.4", "40.1", "25", "C21em"),
        ("1", "10", None, "C11em"),
        ("1.01", "10", None, "B11em"),
        ("20", "41", None, "B21em"),
        ("109.9", "500", None, "B21em"),
    ],
)
def test_group_qualification(kv, kw, fuse, group):
    assert qualify_group(kv, kw, fuse) == group


def test_110_kv_and_above_refused():
    with pytest.raises(SupplyTariffError, match="110 kV"):
        qualify_group("110", "1000")


def test_energy_company_with_declaration(enea):
    inv = supply_invoice(
        enea,
        "C21em",
        Decimal(10_000),
        *NOV,
        InvoiceForm.EINVOICE,
        declared_resale_kwh=Decimal(7_000),
    )
    assert inv.net == pln("4340.10")
    assert [x.amount for x in inv.lines] == [pln("1341.90"), pln("2923.20"), pln("75.00")]


def test_no_declaration_is_own_use(enea):
    inv = supply_invoice(enea, "C21em", Decimal(10_000), *NOV, InvoiceForm.EINVOICE)
    assert inv.net == pln("4548.00")


def test_declaration_above_metered_rejected(enea):
    with pytest.raises(SupplyTariffError, match="exceeds"):
        supply_invoice(
            enea,
            "C21em",
            Decimal(10_000),
            *NOV,
            InvoiceForm.EINVOICE,
            declared_resale_kwh=Decimal(12_000),
        )


def test_coop_cost_and_vat_on_net_total(enea):
    inv = supply_invoice(enea, "C11em", Decimal(1_800), *NOV, InvoiceForm.EINVOICE)
    assert inv.net == pln("866.62")
    assert inv.vat == pln("199.32") and inv.gross == pln("1065.94")
    paper = supply_invoice(enea, "C11em", Decimal(1_800), *NOV, InvoiceForm.PAPER)
    assert paper.net == pln("873.62")


def test_fee_in_full_for_each_started_month(enea):
    assert months_started(date(2026, 1, 31), date(2026, 2, 1)) == 2
    assert months_started(date(2026, 12, 15), date(2027, 1, 3)) == 2
    inv = supply_invoice(
        enea, "C11em", Decimal(0), date(2026, 3, 30), date(2026, 4, 2), InvoiceForm.PAPER
    )
    assert inv.net == pln("70.00")


def test_a_later_tariff_is_data(enea):
    later = parse_tariff(
        {
            "id": "X-2027",
            "name": "later",
            "valid_from": "2027-01-01",
            "currency": "PLN",
            "vat_rate": "0.23",
            "groups": {
                "C11em": {
                    "voltage": "low",
                    "own_use": "500.00",
                    "resale": "450.00",
                    "fee_paper": "40.00",
                    "fee_einvoice": "30.00",
                }
            },
        }
    )
    tariffs = [*bundled_tariffs(), later]
    assert tariff_in_force(tariffs, date(2026, 12, 31)).id == enea.id
    assert tariff_in_force(tariffs, date(2027, 1, 1)).id == "X-2027"
    with pytest.raises(SupplyTariffError):
        tariff_in_force(tariffs, date(2020, 1, 1))


def test_group_change_rule():
    new_tariff = date(2021, 4, 1)
    assert may_change_group(None, date(2022, 1, 1), new_tariff)
    assert not may_change_group(date(2021, 12, 1), date(2022, 11, 30), new_tariff)
    assert may_change_group(date(2021, 12, 1), date(2022, 12, 1), new_tariff)
    # within 60 days of a new tariff, even right after a change
    assert may_change_group(date(2021, 3, 15), date(2021, 5, 31), new_tariff)
    assert not may_change_group(date(2021, 3, 15), date(2021, 6, 1), new_tariff)


def test_forecast_over_and_under_payment():
    over = settle_forecast(pln("500.00"), pln("420.00"))
    assert over.carried_to_next == pln("-80.00") and over.refund.is_zero()
    refunded = settle_forecast(pln("500.00"), pln("420.00"), refund_requested=True)
    assert refunded.refund == pln("80.00") and refunded.carried_to_next.is_zero()
    under = settle_forecast(pln("400.00"), pln("420.00"), refund_requested=True)
    assert under.carried_to_next == pln("20.00") and under.refund.is_zero()
