"""Money, VAT and allocation: domain.md §5 rules and §6 figures, plus properties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.money import Money, MoneyError, allocate, line, round_half_up
from shared.vat import from_gross, from_net

PLN = "PLN"


def pln(s: str) -> Money:
    return Money.of(s, PLN)


def test_half_up_at_the_line():
    assert round_half_up(Decimal("0.125")) == Decimal("0.13")
    assert round_half_up(Decimal("-0.125")) == Decimal("-0.13")
    assert line("18.500", "2.40", PLN) == pln("44.40")
    assert line("0.005", "1", PLN) == pln("0.01")


def test_floats_are_refused():
    with pytest.raises(MoneyError):
        Money.of(0.1, PLN)  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(10, "XXX")
    with pytest.raises(MoneyError):
        pln("1") + Money.of("1", "NOK")


@pytest.mark.parametrize(
    ("gross", "net", "vat"),
    [
        ("69.40", "56.42", "12.98"),
        ("84.40", "68.62", "15.78"),
        ("60.00", "48.78", "11.22"),
        ("120.00", "97.56", "22.44"),
        ("220.00", "178.86", "41.14"),
    ],
)
def test_receipt_split_from_gross(gross, net, vat):
    split = from_gross(pln(gross), Decimal("0.23"))
    assert (split.net, split.vat) == (pln(net), pln(vat))


def test_b2b_vat_on_top():
    assert from_net(pln("139.02"), "0.23").gross == pln("170.99")
    assert from_net(pln("545.36"), "0.23").vat == pln("125.43")
    assert from_net(pln("900.00"), "0.23").gross == pln("1107.00")


def test_variable_cost_shares_largest_remainder():
    shares = allocate(pln("866.62"), [Decimal(600), Decimal(900), Decimal(300)])
    assert shares == [pln("288.87"), pln("433.31"), pln("144.44")]
    assert [from_net(s, "0.23").gross for s in shares] == [
        pln("355.31"),
        pln("532.97"),
        pln("177.66"),
    ]


amounts = st.integers(min_value=-(10**12), max_value=10**12).map(lambda m: Money(m, PLN))
rates = st.sampled_from(
    [Decimal("0"), Decimal("0.05"), Decimal("0.08"), Decimal("0.23"), Decimal("0.25")]
)


@given(
    amounts,
    st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=30).filter(
        lambda ws: sum(ws) > 0
    ),
)
def test_shares_always_sum_exactly(amount, weights):
    shares = allocate(amount, [Decimal(w) for w in weights])
    assert sum(s.minor for s in shares) == amount.minor
    assert all(w > 0 or s.minor == 0 for s, w in zip(shares, weights, strict=True))


@given(amounts, rates)
def test_gross_is_net_plus_vat(amount, rate):
    for split in (from_gross(amount, rate), from_net(amount, rate)):
        assert split.net + split.vat == split.gross
