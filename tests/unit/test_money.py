"""Money, VAT and allocation: domain.md §5 rules and §6 figures, plus properties."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, localcontext
from fractions import Fraction

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


kwh = st.decimals(min_value=0, max_value=100_000, places=3)


@given(amounts, st.lists(kwh, min_size=1, max_size=40).filter(lambda ws: sum(ws) > 0))
def test_shares_of_fractional_kwh_sum_exactly_and_stay_within_a_grosz(amount, weights):
    shares = allocate(amount, weights)
    assert sum(s.minor for s in shares) == amount.minor
    total = sum(weights)
    for share, w in zip(shares, weights, strict=True):
        exact = Fraction(amount.minor) * Fraction(w) / Fraction(total)
        assert abs(Fraction(share.minor) - exact) < 1


def test_largest_remainder_ties_go_to_the_earlier_share():
    assert [s.minor for s in allocate(Money(100, PLN), [Decimal(1)] * 3)] == [34, 33, 33]
    assert [s.minor for s in allocate(Money(-100, PLN), [Decimal(1)] * 3)] == [-34, -33, -33]
    assert [s.minor for s in allocate(Money(2, PLN), [Decimal(0), Decimal(1)])] == [0, 2]
    with pytest.raises(MoneyError):
        allocate(Money(1, PLN), [Decimal(0)])
    with pytest.raises(MoneyError):
        allocate(Money(1, PLN), [Decimal(-1), Decimal(2)])


@given(amounts, st.decimals(min_value=0, max_value="0.99", places=3))
def test_receipt_net_is_the_exact_quotient_rounded_half_up(gross, rate):
    split = from_gross(gross, rate)
    exact = Fraction(gross.minor) / (1 + Fraction(rate))
    assert abs(Fraction(split.net.minor) - exact) <= Fraction(1, 2)
    if abs(Fraction(split.net.minor) - exact) == Fraction(1, 2):  # a tie: away from zero
        assert abs(split.net.minor) > abs(exact)
    assert split.net + split.vat == split.gross


def test_money_ignores_the_callers_decimal_context():
    with localcontext() as ctx:
        ctx.prec, ctx.rounding = 2, ROUND_DOWN
        assert line("18.500", "2.40", PLN) == Money(4440, PLN)
        assert Money.of("123456.785", PLN).minor == 12345679
        assert from_gross(Money(6940, PLN), "0.23").net == Money(5642, PLN)
        assert Money(14634, PLN).percent(5) == Money(732, PLN)


def test_money_refuses_what_is_not_an_amount():
    for bad in ("NaN", "Infinity", "1E+40", True):
        with pytest.raises(MoneyError):
            Money.of(bad, PLN)  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(1.0, PLN)  # type: ignore[arg-type]
    assert Money.of("0.005", "EUR") == Money(1, "EUR")
    assert Money.of("-0.005", "NOK") == Money(-1, "NOK")
    assert str(Money(-5, "NOK")) == "-0.05 NOK"


def test_norwegian_receipt_at_25_percent():
    split = from_gross(Money.of("100.00", "NOK"), "0.25")
    assert (split.net, split.vat) == (Money.of("80.00", "NOK"), Money.of("20.00", "NOK"))
    split = from_gross(Money.of("0.03", "NOK"), "0.25")  # 0.024 → 0.02
    assert (split.net.minor, split.vat.minor) == (2, 1)
