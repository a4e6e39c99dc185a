"""Settlement arithmetic (P1, P2, PUB, SEMI) and the co-op period close, for any input:
every document is gross = net + VAT, shares sum exactly to the cost."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.money import Money
from shared.settlement import (
    BusinessCase,
    Contract,
    SettlementError,
    close_variable_cost_period,
    settle,
    variable_cost_shares,
)
from shared.supply_tariff import InvoiceForm, bundled_tariffs, supply_invoice, tariff_in_force
from shared.vat import from_gross

VAT = Decimal("0.23")


def pln(s: str) -> Money:
    return Money.of(s, "PLN")


nets = st.lists(st.integers(0, 10**7).map(lambda m: Money(m, "PLN")), max_size=50)
percent = st.decimals(min_value=0, max_value=30, places=2)
fixed = st.integers(0, 10_000).map(lambda m: Money(m, "PLN"))
energy = st.decimals(min_value=0, max_value=100_000, places=3)


@settings(max_examples=200)
@given(nets, percent, fixed, energy, st.integers(0, 20), st.sampled_from(["P1", "SEMI"]))
def test_payout_is_revenue_minus_fee_and_gross_is_net_plus_vat(ns, pct, per_cp, kwh, cps, case):
    contract = Contract(BusinessCase(case), "PLN", VAT, fee_percent=pct, fee_fixed_per_cp=per_cp)
    s = settle(contract, session_nets=ns, kwh=kwh, charge_points=cps)
    assert s.revenue_net.minor == sum(n.minor for n in ns)
    assert s.invoice is None
    if s.revenue_net < s.fee_net:  # the fee exceeds the revenue: owed, carried forward
        assert s.payout is None and s.carried == s.revenue_net - s.fee_net
        assert sum(x.amount.minor for x in s.lines) == s.carried.minor
        return
    assert s.payout is not None and s.carried is None
    assert s.payout.net == s.revenue_net - s.fee_net
    assert s.payout.net + s.payout.vat == s.payout.gross
    assert sum(x.amount.minor for x in s.lines) == s.payout.net.minor  # the lines explain it


refunds = st.lists(st.integers(0, 10**6).map(lambda m: Money(m, "PLN")), max_size=5)
balance = st.integers(-(10**6), 0).map(lambda m: Money(m, "PLN"))


@settings(max_examples=200)
@given(nets, refunds, balance, percent, fixed, st.integers(0, 5), st.sampled_from(["P1", "SEMI"]))
def test_refunds_and_a_brought_forward_balance_are_explained_by_the_lines(
    ns, rs, bf, pct, per_cp, cps, case
):
    contract = Contract(BusinessCase(case), "PLN", VAT, fee_percent=pct, fee_fixed_per_cp=per_cp)
    s = settle(
        contract, session_nets=ns, kwh=0, charge_points=cps, refund_nets=rs, brought_forward=bf
    )
    # The fee is a share of what was kept: revenue after refunds.
    kept = sum(n.minor for n in ns) - sum(r.minor for r in rs)
    assert s.revenue_net.minor == kept
    owed = kept - s.fee_net.minor + bf.minor
    assert sum(x.amount.minor for x in s.lines) == owed
    if owed < 0:
        assert s.payout is None and s.carried is not None and s.carried.minor == owed
    else:
        assert s.carried is None and s.payout is not None and s.payout.net.minor == owed


@settings(max_examples=100)
@given(nets, refunds, energy, st.decimals(min_value=0, max_value=3, places=4))
def test_pub_refunds_do_not_touch_the_payout(ns, rs, kwh, agreed):
    contract = Contract(BusinessCase.PUB, "PLN", VAT, agreed_price_per_kwh=agreed)
    a = settle(contract, session_nets=ns, kwh=kwh, charge_points=1, refund_nets=rs)
    b = settle(contract, session_nets=ns, kwh=kwh, charge_points=1)
    assert a.payout == b.payout


def test_p2_adds_what_the_hotel_still_owed_to_its_bill():
    per_cp = Money(3000, "PLN")
    contract = Contract(BusinessCase.P2, "PLN", VAT, fee_fixed_per_cp=per_cp)
    s = settle(
        contract,
        session_nets=[],
        kwh=0,
        charge_points=1,
        brought_forward=Money(-500, "PLN"),
    )
    assert s.invoice is not None and s.invoice.net == Money(3500, "PLN")


def test_a_positive_balance_or_negative_refund_is_refused():
    contract = Contract(BusinessCase.P1, "PLN", VAT)
    with pytest.raises(SettlementError):
        settle(contract, session_nets=[], kwh=0, charge_points=0, brought_forward=Money(1, "PLN"))
    with pytest.raises(SettlementError):
        settle(contract, session_nets=[], kwh=0, charge_points=0, refund_nets=[Money(-1, "PLN")])


@settings(max_examples=100)
@given(nets, energy, st.decimals(min_value=0, max_value=3, places=4))
def test_pub_payout_depends_only_on_kwh(ns, kwh, agreed):
    contract = Contract(BusinessCase.PUB, "PLN", VAT, agreed_price_per_kwh=agreed)
    a = settle(contract, session_nets=ns, kwh=kwh, charge_points=3)
    b = settle(contract, session_nets=[], kwh=kwh, charge_points=3)
    assert a.payout == b.payout and a.payout is not None
    assert a.payout.net + a.payout.vat == a.payout.gross


@settings(max_examples=100)
@given(nets, fixed, energy, st.decimals(min_value=0, max_value=1, places=2), st.integers(1, 5))
def test_p2_hotel_is_billed_the_fee_and_paid_nothing(ns, per_cp, kwh, per_kwh, cps):
    contract = Contract(BusinessCase.P2, "PLN", VAT, fee_fixed_per_cp=per_cp, fee_per_kwh=per_kwh)
    s = settle(contract, session_nets=ns, kwh=kwh, charge_points=cps)
    assert s.payout is None and s.invoice is not None
    assert s.invoice.net == s.fee_net
    assert s.invoice.net + s.invoice.vat == s.invoice.gross


def test_a_pub_contract_needs_its_agreed_price():
    with pytest.raises(SettlementError):
        settle(Contract(BusinessCase.PUB, "PLN", VAT), session_nets=[], kwh=1, charge_points=1)


def test_settlement_of_receipts_split_per_document():
    # the §6 SEMI example, from the gross receipts the drivers got
    receipts = [from_gross(pln(g), VAT) for g in ["120.00"] * 3 + ["220.00"] * 2]
    assert all(r.net + r.vat == r.gross for r in receipts)
    contract = Contract(
        BusinessCase.SEMI, "PLN", VAT, fee_percent=Decimal(10), fee_fixed_per_cp=pln("20.00")
    )
    s = settle(contract, session_nets=[r.net for r in receipts], kwh=500, charge_points=2)
    assert s.payout is not None and s.payout.gross == pln("670.79")


# --- variable cost (co-op) at period close --------------------------------------------

drivers = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=4), energy, min_size=0, max_size=30
)


@settings(max_examples=200)
@given(st.integers(0, 10**8), drivers, energy)
def test_cost_shares_sum_exactly_to_the_cost(cost_minor, used, other_loads):
    metered = sum(used.values(), Decimal(0)) + other_loads
    cost = Money(cost_minor, "PLN")
    shares = variable_cost_shares(cost, metered, used, VAT, owner_key="owner!")
    assert [s.key for s in shares] == [*used, "owner!"]
    assert sum(s.cost.net.minor for s in shares) == cost_minor
    assert shares[-1].kwh == other_loads or metered == 0
    for s in shares:
        assert s.cost.net + s.cost.vat == s.cost.gross


def test_drivers_cannot_have_used_more_than_the_meter():
    with pytest.raises(SettlementError, match="meter"):
        variable_cost_shares(pln("10.00"), Decimal(10), {"A": Decimal(11)}, VAT)
    with pytest.raises(SettlementError, match="owner"):
        variable_cost_shares(pln("10.00"), Decimal(10), {"owner": Decimal(1)}, VAT)


def test_coop_period_close_from_the_meter_and_its_tariff():
    tariff = tariff_in_force(bundled_tariffs(), date(2026, 11, 1))
    invoice = supply_invoice(
        tariff, "C11em", Decimal(1800), date(2026, 11, 1), date(2026, 11, 30), InvoiceForm.EINVOICE
    )
    period = close_variable_cost_period(
        invoice, {"A": Decimal(600), "B": Decimal(900)}, VAT, owner_key="coop"
    )
    assert period.cost_net == pln("866.62")
    assert [(s.key, s.cost.net, s.cost.gross) for s in period.shares] == [
        ("A", pln("288.87"), pln("355.31")),
        ("B", pln("433.31"), pln("532.97")),
        ("coop", pln("144.44"), pln("177.66")),
    ]
    assert period.explain() == [
        "tariff ENEA-EV-2021, group C11em, metered 1800 kWh",
        "energy, own use: 1.800 MWh × 465.90 = 838.62 PLN",
        "commercial service fee (einvoice): 1 month × 28.00 = 28.00 PLN",
        "cost 866.62 PLN net, shared in proportion to kWh (largest remainder)",
        "A: 600 kWh → 288.87 PLN net + 66.44 PLN VAT = 355.31 PLN",
        "B: 900 kWh → 433.31 PLN net + 99.66 PLN VAT = 532.97 PLN",
        "coop: 300 kWh → 144.44 PLN net + 33.22 PLN VAT = 177.66 PLN",
    ]


@settings(max_examples=200)
@given(nets, nets, refunds, fixed, st.integers(0, 3))
def test_p2_card_money_is_set_against_the_fee(statements, cards, rs, per_cp, cps):
    # A hotel invoices its guests itself; what the platform collected by card at its
    # sites is the hotel's money: it lowers the bill, or is paid out when it exceeds it.
    contract = Contract(BusinessCase.P2, "PLN", VAT, fee_fixed_per_cp=per_cp)
    s = settle(
        contract,
        session_nets=statements,
        kwh=0,
        charge_points=cps,
        refund_nets=rs,
        collected_nets=cards,
    )
    kept = sum(c.minor for c in cards) - sum(r.minor for r in rs)
    owed_by_hotel = s.fee_net.minor - kept
    assert sum(x.amount.minor for x in s.lines) == -owed_by_hotel
    if owed_by_hotel >= 0:
        assert s.payout is None and s.invoice is not None
        assert s.invoice.net.minor == owed_by_hotel
    else:
        assert s.invoice is None and s.payout is not None
        assert s.payout.net.minor == -owed_by_hotel


def test_collected_money_is_only_set_apart_for_a_hotel():
    contract = Contract(BusinessCase.P1, "PLN", VAT)
    with pytest.raises(SettlementError):
        settle(
            contract,
            session_nets=[],
            kwh=0,
            charge_points=0,
            collected_nets=[Money(100, "PLN")],
        )


def test_what_the_operator_owes_at_the_end_of_its_last_contract_is_invoiced():
    # Refunds above the revenue: carried into the next settlement while the contract
    # runs, invoiced (VAT on top) in the last one, which has no next.
    contract = Contract(BusinessCase.P1, "PLN", VAT, fee_percent=Decimal(5))
    args = {"session_nets": [Money(9756, "PLN")], "kwh": 0, "charge_points": 0}
    refunds = [Money(14634, "PLN")]
    running = settle(contract, refund_nets=refunds, **args)
    assert running.payout is None and running.invoice is None
    assert running.carried == Money(-4634, "PLN")  # -48.78 revenue + 2.44 fee back
    last = settle(contract, refund_nets=refunds, final=True, **args)
    assert last.carried is None and last.payout is None and last.invoice is not None
    assert (last.invoice.net, last.invoice.vat) == (Money(4634, "PLN"), Money(1066, "PLN"))
    assert sum(x.amount.minor for x in last.lines) == -last.invoice.net.minor
