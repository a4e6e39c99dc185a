"""domain.md §6 worked examples, to the grosz (binding)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from shared.idle import IdleWindow
from shared.money import Money
from shared.pricing import PriceVersion, PricingModel, Usage, price_session
from shared.settlement import BusinessCase, Contract, settle, variable_cost_shares
from shared.vat import from_gross

WAW = ZoneInfo("Europe/Warsaw")
VAT = Decimal("0.23")


def pln(s: str) -> Money:
    return Money.of(s, "PLN")


def hotel_version() -> PriceVersion:
    return PriceVersion(
        "hotel-v1",
        datetime(2026, 1, 1, tzinfo=UTC),
        PricingModel.FIXED_WITH_IDLE,
        "PLN",
        VAT,
        energy_per_kwh=Decimal("2.40"),
        idle_per_minute=Decimal("0.50"),
        idle_window=IdleWindow(time(8), time(22), "Europe/Warsaw"),
    )


def hotel_usage(unplugged: datetime) -> Usage:
    return Usage(
        1_000_000,
        1_018_500,
        datetime(2026, 11, 20, 20, 0, tzinfo=WAW),
        unplugged,
        full_at=datetime(2026, 11, 20, 21, 10, tzinfo=WAW),
    )


def test_hotel_idle_fee_unplugged_at_2330():
    priced = price_session(hotel_usage(datetime(2026, 11, 20, 23, 30, tzinfo=WAW)), hotel_version())
    assert priced.energy_kwh == Decimal("18.500")
    assert [x.amount for x in priced.lines] == [pln("44.40"), pln("25.00")]
    assert priced.idle is not None and priced.idle.billable_minutes == 50
    assert (priced.gross, priced.split.net, priced.split.vat) == (
        pln("69.40"),
        pln("56.42"),
        pln("12.98"),
    )


def test_hotel_idle_fee_unplugged_next_morning():
    priced = price_session(hotel_usage(datetime(2026, 11, 21, 8, 30, tzinfo=WAW)), hotel_version())
    assert priced.idle is not None and priced.idle.billable_minutes == 80
    assert (priced.gross, priced.split.net, priced.split.vat) == (
        pln("84.40"),
        pln("68.62"),
        pln("15.78"),
    )


def nets(*grosses: str) -> list[Money]:
    return [from_gross(pln(g), VAT).net for g in grosses]


def test_p1_residential():
    contract = Contract(BusinessCase.P1, "PLN", VAT, fee_percent=Decimal(5))
    s = settle(contract, session_nets=nets("60.00", "120.00"), kwh=Decimal(120), charge_points=1)
    assert s.revenue_net == pln("146.34") and s.fee_net == pln("7.32")
    assert s.payout is not None
    assert (s.payout.net, s.payout.vat, s.payout.gross) == (
        pln("139.02"),
        pln("31.97"),
        pln("170.99"),
    )


def test_semi_university():
    contract = Contract(
        BusinessCase.SEMI, "PLN", VAT, fee_percent=Decimal(10), fee_fixed_per_cp=pln("20.00")
    )
    s = settle(
        contract,
        session_nets=nets(*["120.00"] * 3, *["220.00"] * 2),
        kwh=Decimal(500),
        charge_points=2,
    )
    assert s.revenue_net == pln("650.40") and s.fee_net == pln("105.04")
    assert s.payout is not None
    assert (s.payout.net, s.payout.vat, s.payout.gross) == (
        pln("545.36"),
        pln("125.43"),
        pln("670.79"),
    )


def test_pub_mall_whatever_drivers_paid():
    contract = Contract(BusinessCase.PUB, "PLN", VAT, agreed_price_per_kwh=Decimal("0.90"))
    for paid in (["2.00"], ["1500.00", "3.33"]):
        s = settle(contract, session_nets=nets(*paid), kwh=Decimal(1000), charge_points=4)
        assert s.payout is not None
        assert (s.payout.net, s.payout.vat, s.payout.gross) == (
            pln("900.00"),
            pln("207.00"),
            pln("1107.00"),
        )


def test_p2_hotel_fee_and_guest_statement():
    guest = from_gross(pln("60.00"), VAT)
    assert (guest.net, guest.vat) == (pln("48.78"), pln("11.22"))
    contract = Contract(
        BusinessCase.P2, "PLN", VAT, fee_fixed_per_cp=pln("30.00"), fee_per_kwh=Decimal("0.10")
    )
    s = settle(contract, session_nets=[guest.net], kwh=Decimal(30), charge_points=1)
    assert s.payout is None and s.invoice is not None
    assert (s.invoice.net, s.invoice.vat, s.invoice.gross) == (
        pln("33.00"),
        pln("7.59"),
        pln("40.59"),
    )


def test_variable_cost_coop():
    shares = variable_cost_shares(
        pln("866.62"), Decimal(1800), {"A": Decimal(600), "B": Decimal(900)}, VAT, owner_key="coop"
    )
    assert [(s.key, s.cost.net, s.cost.gross) for s in shares] == [
        ("A", pln("288.87"), pln("355.31")),
        ("B", pln("433.31"), pln("532.97")),
        ("coop", pln("144.44"), pln("177.66")),
    ]
