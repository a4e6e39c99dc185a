"""Supply tariff (domain.md §4 and the §6 worked examples)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@pytest.mark.parametrize("kv", ["110", "110.0", "220", "400"])
def test_every_voltage_from_110_kv_up_is_refused_clearly(kv):
    with pytest.raises(SupplyTariffError, match="110 kV or above is outside this tariff"):
        qualify_group(kv, "40", None)


@pytest.mark.parametrize(
    ("kv", "kw", "fuse"), [("0", "10", None), ("0.4", "0", "25"), ("0.4", "10", "0")]
)
def test_impossible_connections_refused(kv, kw, fuse):
    with pytest.raises(SupplyTariffError):
        qualify_group(kv, kw, fuse)


@pytest.mark.parametrize(
    ("kw", "fuse", "group"),
    [
        ("40", "63", "C11em"),
        ("40", "63.5", "C21em"),
        ("40.01", "10", "C21em"),
        ("12", None, "C11em"),
    ],
)
def test_low_voltage_boundaries(kw, fuse, group):
    assert qualify_group("0.4", kw, fuse) == group


def test_medium_voltage_ignores_the_fuse():
    assert qualify_group("15", "40", "100") == "B11em"
    assert qualify_group("15", "40.5", "10") == "B21em"


def test_declaration_rules(enea):
    def net(declared):
        return supply_invoice(
            enea, "B21em", Decimal(2_000), *NOV, InvoiceForm.PAPER, declared_resale_kwh=declared
        ).net

    # all resold: 2 × 394.86 + 207.00; none declared: own use; declared 0: own use
    assert net(Decimal(2_000)) == pln("996.72")
    assert net(None) == net(Decimal(0)) == pln("1056.20")
    with pytest.raises(SupplyTariffError, match="exceeds"):
        net(Decimal("2000.001"))
    with pytest.raises(SupplyTariffError):
        net(Decimal(-1))


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        (date(2026, 11, 1), date(2026, 11, 1), 1),  # one day is a started month
        (date(2026, 11, 30), date(2026, 11, 30), 1),
        (date(2026, 11, 30), date(2026, 12, 1), 2),
        (date(2026, 1, 1), date(2026, 12, 31), 12),
    ],
)
def test_fee_in_full_for_any_started_month_by_invoice_form(enea, start, end, months):
    for form, fee in ((InvoiceForm.PAPER, "35.00"), (InvoiceForm.EINVOICE, "28.00")):
        inv = supply_invoice(enea, "C11em", Decimal(0), start, end, form, metering_systems=2)
        assert inv.lines[-1].quantity == 2 * months
        assert inv.net == Money.of(Decimal(fee) * 2 * months, "PLN")


def test_vat_is_on_the_invoice_net_total_not_per_line(enea):
    # 0.043 MWh × 465.90 = 20.0337 → 20.03; 0.057 MWh × 436.20 = 24.8634 → 24.86; + 28.00.
    inv = supply_invoice(
        enea, "C11em", Decimal(100), *NOV, InvoiceForm.EINVOICE, declared_resale_kwh=Decimal(57)
    )
    assert [x.amount for x in inv.lines] == [pln("20.03"), pln("24.86"), pln("28.00")]
    assert inv.net == pln("72.89")
    assert inv.vat == pln("16.76")  # 72.89 × 0.23 = 16.7647
    # VAT per line would be 4.61 + 5.72 + 6.44 = 16.77: not what the tariff says (1.8)
    per_line = sum(Money.of(x.amount.amount * Decimal("0.23"), "PLN").minor for x in inv.lines)
    assert per_line == 1677
    assert inv.gross == inv.net + inv.vat == pln("89.65")


def test_group_change_boundaries():
    tariff = date(2021, 4, 1)
    assert may_change_group(date(2021, 3, 31), date(2021, 4, 1), tariff)  # day 0
    assert may_change_group(date(2021, 3, 31), date(2021, 5, 31), tariff)  # day 60
    assert not may_change_group(date(2021, 4, 10), date(2021, 6, 1), tariff)  # day 61
    assert not may_change_group(date(2021, 3, 31), date(2021, 3, 31), tariff)  # before it
    # a change on 29 February may be followed by the next one on 28 February
    assert not may_change_group(date(2024, 2, 29), date(2025, 2, 27), tariff)
    assert may_change_group(date(2024, 2, 29), date(2025, 2, 28), tariff)


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.booleans()),
        min_size=1,
        max_size=12,
    )
)
def test_forecast_billing_carries_every_grosz_forward(periods):
    """Over any run of periods: paid − refunded + still carried = what was really due."""
    carried = Money.zero("PLN")
    paid_total = refunded = actual_total = 0
    for paid, actual, wants_refund in periods:
        result = settle_forecast(
            Money(paid, "PLN"), Money(actual, "PLN"), wants_refund, carried_in=carried
        )
        assert result.refund.minor >= 0
        assert result.refund.is_zero() or result.carried_to_next.is_zero()
        if result.carried_to_next.minor > 0:  # underpaid: on the next invoice
            assert result.refund.is_zero()
        carried = result.carried_to_next
        paid_total, refunded, actual_total = (
            paid_total + paid,
            refunded + result.refund.minor,
            actual_total + actual,
        )
    assert paid_total - refunded + carried.minor == actual_total


def test_forecast_credit_reduces_the_next_period():
    first = settle_forecast(pln("500.00"), pln("420.00"))
    second = settle_forecast(pln("400.00"), pln("430.00"), carried_in=first.carried_to_next)
    assert second.carried_to_next == pln("-50.00")  # 430 − 80 credit − 400 paid


def test_malformed_tariff_data_refused():
    good = {
        "id": "T",
        "name": "t",
        "valid_from": "2027-01-01",
        "currency": "PLN",
        "vat_rate": "0.23",
        "groups": {
            "C11em": {
                "voltage": "low",
                "own_use": "1",
                "resale": "1",
                "fee_paper": "1",
                "fee_einvoice": "1",
            }
        },
    }
    assert parse_tariff(good).valid_from == date(2027, 1, 1)
    bad_group = {**good["groups"]["C11em"], "own_use": 465.9}  # a float, not a string
    for broken in (
        {k: v for k, v in good.items() if k != "valid_from"},
        {**good, "valid_from": "soon"},
        {**good, "currency": "XXX"},
        {**good, "groups": {}},
        {**good, "groups": {"C11em": bad_group}},
        {**good, "groups": {"C11em": {**bad_group, "own_use": "-1"}}},
        {**good, "groups": {"C11em": {**bad_group, "own_use": "1", "voltage": "high"}}},
    ):
        with pytest.raises(SupplyTariffError):
            parse_tariff(broken)


def test_bundled_tariff_keeps_its_validity_date(enea):
    assert (enea.id, enea.valid_from) == ("ENEA-EV-2021", date(2021, 4, 1))
    assert enea.group("C21em").own_use_per_mwh == Decimal("447.30")
    with pytest.raises(SupplyTariffError):
        enea.group("G11")
