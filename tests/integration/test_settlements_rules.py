"""Settlement rules on the real PostgreSQL, through the API: periods in the sites' time
zone and in order, late receipts and refunds carried into the next settlement, refunds
above a month's revenue brought forward as a balance, price and contract changes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from backend.db.models import Notification, OperatorContract, ReceiptCounter
from backend.db.models.enums import Role
from backend.db.models.payments import Payment, Refund
from backend.services import payment_refunds
from backend.services.payment_gateway import PaymentProviderUnavailable
from tests import factories as f
from tests.integration.test_billing_support import card, fake_payments, price
from tests.integration.test_settlements_support import (
    billed,
    count,
    driver,
    items,
    lines,
    local,
    operator,
    paying_driver,
    post,
    receipt_of,
    refund,
    settled,
    settlements_of,
    totals,
    utc,
    written,
)

DECEMBER_2, JANUARY_2, FEBRUARY_2, MARCH_2 = (
    utc(2026, 12, 2, 8),
    utc(2027, 1, 2, 8),
    utc(2027, 2, 2, 8),
    utc(2027, 3, 2, 8),
)


@pytest.fixture
def gw(container):  # type: ignore[no-untyped-def]
    return fake_payments(container)


@pytest.fixture
def billing(container, gw):  # type: ignore[no-untyped-def]
    return container.session_billing


@pytest.fixture
def admin(session):  # type: ignore[no-untyped-def]
    u = f.user(session, Role.PLATFORM_ADMIN)
    session.commit()
    return u


@pytest.fixture
def block(session):  # type: ignore[no-untyped-def]
    """A P1 residential block, 1.50 PLN/kWh gross for residents, fee 5 %, open-ended."""
    op = operator(session, "P1", name="Osiedle Zielone", fee_percent="5")
    price(session, op.place, energy="1.50", group=op.place.setup.company)
    session.commit()
    return op


def resident_session(session, billing, op, u, end, wh, **kw):  # type: ignore[no-untyped-def]
    return billed(session, billing, op, u, end=end, wh=wh, group=op.place.setup.company, **kw)


def settle(client, clock, admin, op, period, now):  # type: ignore[no-untyped-def]
    clock.now = now
    return settled(client, f.login(client, admin), op.id, period)


def kinds(got: list[dict]) -> list[tuple]:
    """(kind, origin period, net, what it is) of each item, in a stable order."""
    return sorted(
        (x["kind"], x["origin_period"], x["net"], x["receipt_id"] or x["refund_id"] or 0)
        for x in got
    )


# --- periods and time zones ---------------------------------------------------------------


def test_a_session_belongs_to_the_month_of_its_end_in_the_sites_time_zone(
    client, session, billing, gw, clock, admin, block
):
    u = paying_driver(session, gw)
    # 23:30 on 30 Nov in Warsaw is 22:30 UTC; 00:30 on 1 Dec in Warsaw is 23:30 UTC on
    # 30 Nov: by the UTC date both would be November.
    late_evening = resident_session(session, billing, block, u, local(2026, 11, 30, 23, 30), 40_000)
    after_midnight = resident_session(session, billing, block, u, local(2026, 12, 1, 0, 30), 80_000)
    assert late_evening.ended_at == utc(2026, 11, 30, 22, 30)
    assert after_midnight.ended_at == utc(2026, 11, 30, 23, 30)

    november = settle(client, clock, admin, block, "2026-11", DECEMBER_2)
    got = items(client, f.login(client, admin), block.id, november["id"])
    assert {x["session_id"] for x in got} == {late_evening.session_id}
    assert november["revenue_net"] == "48.78"
    assert totals(november) == ("payout", "46.34", "10.66", "57.00")

    december = settle(client, clock, admin, block, "2026-12", JANUARY_2)
    got = items(client, f.login(client, admin), block.id, december["id"])
    assert {x["session_id"] for x in got} == {after_midnight.session_id}
    assert {x["origin_period"] for x in got} == {"2026-12"}
    # 97.56 − 4.88 fee = 92.68 net, 21.32 VAT
    assert (december["revenue_net"], totals(december)) == (
        "97.56",
        ("payout", "92.68", "21.32", "114.00"),
    )


def test_a_month_not_yet_ended_everywhere_is_refused_and_nothing_written(
    client, session, billing, gw, clock, admin, block
):
    u = paying_driver(session, gw)
    resident_session(session, billing, block, u, local(2026, 11, 30, 20), 40_000)
    # 11:59 UTC on 1 Dec is still 30 Nov, 23:59 at UTC−12: sessions may still end there.
    clock.now = utc(2026, 12, 1, 11, 59)
    headers = f.login(client, admin)
    for period in ("2026-11", "2026-12"):
        r = post(client, headers, block.id, period)
        assert r.status_code == 409, r.get_json()
        assert set(r.get_json()) == {"code", "status", "message", "errors"}
        assert period in r.get_json()["message"]
    assert written(session) == (0, 0, 0)
    assert count(session, ReceiptCounter, ReceiptCounter.series == "ST") == 0
    assert count(session, Notification, Notification.kind == "settlement_ready") == 0

    clock.now = utc(2026, 12, 1, 12, 0)  # now it has ended everywhere
    r = post(client, f.login(client, admin), block.id, "2026-11")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["revenue_net"] == "48.78"


def test_a_period_is_a_month_written_yyyy_mm(client, session, clock, admin, block):
    clock.now = DECEMBER_2
    headers = f.login(client, admin)
    for bad in ("2026-13", "2026-1", "november", ""):
        r = post(client, headers, block.id, bad)
        assert r.status_code == 422, (bad, r.get_json())
        assert "period" in r.get_json()["errors"], bad
    assert written(session) == (0, 0, 0)


def test_no_contract_in_the_month_is_refused(client, session, clock, admin):
    later = operator(session, "P1", name="Nowe Osiedle", valid_from=date(2027, 1, 1))
    clock.now = DECEMBER_2
    r = post(client, f.login(client, admin), later.id, "2026-11")
    assert r.status_code == 409 and "contract" in r.get_json()["message"]
    assert written(session) == (0, 0, 0)


def test_months_are_settled_in_order(client, session, billing, gw, clock, admin):
    """December after November takes only December's; December first takes what was left
    of November too, and November can no longer be settled out of turn."""
    in_order = operator(session, "P1", name="Po kolei", fee_percent="5")
    out_of_turn = operator(session, "P1", name="Na skróty", fee_percent="5")
    u = paying_driver(session, gw)
    for op in (in_order, out_of_turn):
        price(session, op.place, energy="1.50", group=op.place.setup.company)
        resident_session(session, billing, op, u, local(2026, 11, 10, 22), 40_000)
        resident_session(session, billing, op, u, local(2026, 12, 10, 22), 80_000)

    settle(client, clock, admin, in_order, "2026-11", DECEMBER_2)
    december = settle(client, clock, admin, in_order, "2026-12", JANUARY_2)
    assert december["revenue_net"] == "97.56"
    got = items(client, f.login(client, admin), in_order.id, december["id"])
    assert {x["origin_period"] for x in got} == {"2026-12"} and len(got) == 2

    first = settle(client, clock, admin, out_of_turn, "2026-12", JANUARY_2)
    got = items(client, f.login(client, admin), out_of_turn.id, first["id"])
    assert sorted(x["origin_period"] for x in got) == ["2026-11"] * 2 + ["2026-12"] * 2
    assert (first["revenue_net"], first["net"]) == ("146.34", "139.02")
    before = written(session)
    r = post(client, f.login(client, admin), out_of_turn.id, "2026-11")
    assert r.status_code == 409, r.get_json()
    assert "2026-12" in r.get_json()["message"]
    assert written(session) == before
    assert [x.period for x in settlements_of(session, out_of_turn.id)] == ["2026-12"]
    listed = client.get(in_order.url, headers=f.login(client, in_order.staff)).get_json()
    assert [x["period"] for x in listed] == ["2026-12", "2026-11"]  # newest first


# --- late arrivals go into the next settlement ------------------------------------------------


def test_a_receipt_issued_after_its_month_was_settled_goes_into_the_next(
    client, session, billing, gw, clock, admin, block
):
    payer, no_card = paying_driver(session, gw), driver(session, name="Bez Karty")
    on_time = resident_session(session, billing, block, payer, local(2026, 11, 10, 22), 40_000)
    late = resident_session(session, billing, block, no_card, local(2026, 11, 28, 22), 80_000)
    assert (late.status, late.receipt_id) == ("payment_failed", None)

    november = settle(client, clock, admin, block, "2026-11", DECEMBER_2)
    assert (november["revenue_net"], november["net"]) == ("48.78", "46.34")
    assert Decimal(november["energy_kwh"]) == 120  # both sessions delivered energy

    # 3 December: the driver saves a card, the sweep collects, the receipt is issued now.
    card(session, gw, no_card)
    billing.bill_pending(session, utc(2026, 12, 3, 9), retry_failed=True)
    late_receipt = receipt_of(session, late)
    assert late_receipt.issued_at == utc(2026, 12, 3, 9) and late_receipt.net_minor == 9756

    december = settle(client, clock, admin, block, "2026-12", JANUARY_2)
    got = items(client, f.login(client, admin), block.id, december["id"])
    assert kinds(got) == [("receipt", "2026-11", "97.56", late_receipt.id)]
    assert got[0]["reference"] == late_receipt.number
    assert (december["revenue_net"], december["fee_net"]) == ("97.56", "4.88")
    assert totals(december) == ("payout", "92.68", "21.32", "114.00")
    assert Decimal(december["energy_kwh"]) == 0  # its energy was settled in November
    assert on_time.receipt_id not in {x["receipt_id"] for x in got}


def test_a_public_session_of_november_billed_late_is_paid_in_december(
    client, session, billing, gw, clock, admin
):
    """PUB pays per kWh delivered: a November session whose end reached billing only on
    3 December (after November was settled) is paid, once, in December's settlement."""
    from tests.integration.test_billing_support import ended_session, plan

    mall = operator(session, "PUB", name="Galeria", agreed="0.90")
    price(session, mall.place, model="platform_plan", energy="0")
    plan(session, None, code="pay-per-use", price="2.59")
    u = paying_driver(session, gw)
    billed(session, billing, mall, u, end=local(2026, 11, 5, 14), wh=1_000_000)
    late = ended_session(session, mall.place, u, start=local(2026, 11, 30, 18),
                         end=local(2026, 11, 30, 23), wh=100_000)  # fmt: skip
    november = settle(client, clock, admin, mall, "2026-11", DECEMBER_2)
    assert totals(november) == ("payout", "900.00", "207.00", "1107.00")

    charge = billing.bill_ended_session(session, late.id, utc(2026, 12, 3, 9))
    assert (charge.period, charge.status) == ("2026-11", "paid")
    december = settle(client, clock, admin, mall, "2026-12", JANUARY_2)
    assert totals(december) == ("payout", "90.00", "20.70", "110.70")
    got = items(client, f.login(client, admin), mall.id, december["id"])
    assert sorted((x["kind"], x["origin_period"], x["session_id"]) for x in got) == [
        ("receipt", "2026-11", late.id),
        ("session", "2026-11", late.id),
    ]
    assert [Decimal(x["energy_kwh"]) for x in got if x["kind"] == "session"] == [100]


def test_a_refund_lowers_the_next_settlements_revenue_and_percentage_fee(
    client, session, billing, gw, clock, admin, block
):
    u = paying_driver(session, gw)
    november_session = resident_session(session, billing, block, u, local(2026, 11, 10, 22), 40_000)
    # 1 December, 10:00 in Warsaw, before November is settled: 20.00 given back on
    # November's session (correction note −16.26 net). Made in December, it is December's.
    given = refund(session, gw, block, november_session, "20.00", local(2026, 12, 1, 10))
    assert (given.status, given.period) == ("succeeded", "2026-12")
    [note] = billing.issue_corrections(session, local(2026, 12, 1, 11))
    assert note.net_minor == -1626
    november = settle(client, clock, admin, block, "2026-11", DECEMBER_2)
    assert (november["revenue_net"], november["net"]) == ("48.78", "46.34")
    assert november["item_counts"] == {"receipt": 1, "session": 1}
    december_session = resident_session(session, billing, block, u, local(2026, 12, 10, 22), 80_000)

    december = settle(client, clock, admin, block, "2026-12", JANUARY_2)
    # revenue 97.56 − 16.26 = 81.30; fee 5 % = 4.065 → 4.07; 77.23 net, 17.76 VAT
    assert (december["revenue_net"], december["fee_net"]) == ("81.30", "4.07")
    assert totals(december) == ("payout", "77.23", "17.76", "94.99")
    assert lines(december) == [("revenue", "97.56"), ("refunds", "-16.26"), ("fee", "-4.07")]
    got = items(client, f.login(client, admin), block.id, december["id"])
    dec_receipt = receipt_of(session, december_session)
    assert kinds(got) == [
        ("receipt", "2026-12", "97.56", dec_receipt.id),
        ("refund", "2026-12", "-16.26", given.id),
        ("session", "2026-12", "0.00", 0),
    ]
    [refund_item] = [x for x in got if x["kind"] == "refund"]
    assert (refund_item["reference"], refund_item["session_id"]) == (
        note.number,
        november_session.session_id,
    )


def test_a_refund_of_november_finished_after_november_was_settled_goes_into_december(
    client, session, billing, gw, clock, admin, block
):
    """Asked for on 30 November while Stripe was unreachable, so still pending when
    November was settled; finished on 3 December: December's, as November's (origin)."""
    u = paying_driver(session, gw)
    paid = resident_session(session, billing, block, u, local(2026, 11, 10, 22), 40_000)
    gw.down = True
    with pytest.raises(PaymentProviderUnavailable):
        refund(session, gw, block, paid, "10.00", local(2026, 11, 30, 22))
    session.rollback()
    gw.down = False

    november = settle(client, clock, admin, block, "2026-11", DECEMBER_2)
    assert (november["revenue_net"], november["net"]) == ("48.78", "46.34")  # not given yet

    payment = session.get(Payment, paid.payment_id)
    payment_refunds.finish_pending(session, gw, payment)
    [given] = session.scalars(select(Refund)).all()
    assert (given.status, given.period) == ("succeeded", "2026-11")
    december_session = resident_session(session, billing, block, u, local(2026, 12, 10, 22), 80_000)

    december = settle(client, clock, admin, block, "2026-12", JANUARY_2)
    got = items(client, f.login(client, admin), block.id, december["id"])
    # No correction note issued yet: the refund's net is split at its receipt's rate.
    assert ("refund", "2026-11", "-8.13", given.id) in kinds(got)
    assert receipt_of(session, december_session).net_minor == 9756
    # revenue 97.56 − 8.13 = 89.43; fee 4.4715 → 4.47; 84.96 net, 19.54 VAT
    assert (december["revenue_net"], december["fee_net"]) == ("89.43", "4.47")
    assert totals(december) == ("payout", "84.96", "19.54", "104.50")


def test_refunds_above_a_months_revenue_are_brought_forward_once(
    client, session, billing, gw, clock, admin, block
):
    u = paying_driver(session, gw)
    november_session = resident_session(session, billing, block, u, local(2026, 11, 10, 22), 40_000)
    november = settle(client, clock, admin, block, "2026-11", DECEMBER_2)
    assert totals(november) == ("payout", "46.34", "10.66", "57.00")

    refund(session, gw, block, november_session, "60.00", local(2026, 12, 5, 10))
    december = settle(client, clock, admin, block, "2026-12", JANUARY_2)
    # −48.78 given back; the 5 % fee taken on it comes back too: −48.78 + 2.44 = −46.34,
    # owed by the operator: no payout, no VAT yet, brought forward.
    assert (december["revenue_net"], december["fee_net"]) == ("-48.78", "-2.44")
    assert totals(december) == ("carried", "-46.34", "0.00", "-46.34")
    assert december["payout"] is None
    assert [x.direction for x in settlements_of(session, block.id)] == ["payout", "carried"]

    january_session = resident_session(session, billing, block, u, local(2027, 1, 10, 22), 80_000)
    january = settle(client, clock, admin, block, "2027-01", FEBRUARY_2)
    # 97.56 − 4.88 fee − 46.34 brought forward = 46.34 net, 10.66 VAT on top
    assert lines(january) == [("revenue", "97.56"), ("fee", "-4.88"), ("balance", "-46.34")]
    assert totals(january) == ("payout", "46.34", "10.66", "57.00")
    assert january["payout"]["amount"] == "57.00"
    got = items(client, f.login(client, admin), block.id, january["id"])
    [balance] = [x for x in got if x["kind"] == "balance"]
    assert (balance["origin_period"], balance["net"], balance["reference"]) == (
        "2026-12",
        "-46.34",
        december["number"],
    )
    assert receipt_of(session, january_session).id in {x["receipt_id"] for x in got}

    february = settle(client, clock, admin, block, "2027-02", MARCH_2)
    assert ("balance", "-46.34") not in lines(february)  # brought forward once only
    assert (february["direction"], february["net"]) == ("none", "0.00")


def test_what_the_operator_owes_when_its_contract_ends_is_invoiced_not_carried(
    client, session, billing, gw, clock, admin, block
):
    # The same refund as above, but the contract ends mid-December and none follows:
    # there is no next settlement to carry the balance into, so it is invoiced.
    u = paying_driver(session, gw)
    november_session = resident_session(session, billing, block, u, local(2026, 11, 10, 22), 40_000)
    assert totals(settle(client, clock, admin, block, "2026-11", DECEMBER_2))[0] == "payout"
    terms = session.scalar(select(OperatorContract).where(OperatorContract.operator_id == block.id))
    r = client.post(
        f"/operators/{block.id}/contracts/{terms.id}/end",
        json={"last_day": "2026-12-15"},
        headers=f.login(client, admin),
    )
    assert r.status_code == 200, r.json

    refund(session, gw, block, november_session, "60.00", local(2026, 12, 5, 10))
    december = settle(client, clock, admin, block, "2026-12", JANUARY_2)
    assert totals(december) == ("invoice", "46.34", "10.66", "57.00")
    assert december["payout"] is None
    assert sum(Decimal(x["amount"]) for x in december["lines"]) == Decimal("-46.34")


# --- price and contract changes ------------------------------------------------------------


def test_sessions_are_counted_at_what_their_receipts_say_across_a_price_change(
    client, session, billing, gw, clock, admin, block
):
    company = block.place.setup.company
    price(session, block.place, energy="2.00", group=company, revision=2,
          effective_from=local(2026, 11, 15, 0, 0))  # fmt: skip
    u = paying_driver(session, gw)
    before = resident_session(session, billing, block, u, local(2026, 11, 10, 22), 40_000)
    after = resident_session(session, billing, block, u, local(2026, 11, 20, 22), 40_000)
    # started on the 14th at 22:00 under the old price, ended on the 15th at 02:00
    across = resident_session(session, billing, block, u, local(2026, 11, 15, 2), 10_000)
    receipts = [receipt_of(session, c) for c in (before, after, across)]
    assert [(r.gross_minor, r.net_minor) for r in receipts] == [
        (6000, 4878),
        (8000, 6504),
        (1500, 1220),
    ]
    # A later price change touches neither the receipts nor what is settled.
    price(session, block.place, energy="9.99", group=company, revision=3,
          effective_from=local(2026, 11, 25, 0, 0))  # fmt: skip
    session.commit()

    november = settle(client, clock, admin, block, "2026-11", DECEMBER_2)
    # 48.78 + 65.04 + 12.20 = 126.02; fee 6.301 → 6.30; 119.72 net, 27.54 VAT
    assert (november["revenue_net"], november["fee_net"]) == ("126.02", "6.30")
    assert totals(november) == ("payout", "119.72", "27.54", "147.26")
    got = items(client, f.login(client, admin), block.id, november["id"])
    by_receipt = {x["receipt_id"]: x["net"] for x in got if x["kind"] == "receipt"}
    assert by_receipt == {r.id: f"{Decimal(r.net_minor) / 100:.2f}" for r in receipts}


def two_sessions(session, billing, gw, op):  # type: ignore[no-untyped-def]
    price(session, op.place, energy="1.50", group=op.place.setup.company)
    u = paying_driver(session, gw)
    resident_session(session, billing, op, u, local(2026, 11, 10, 22), 40_000)
    resident_session(session, billing, op, u, local(2026, 11, 20, 22), 80_000)


def test_the_contract_in_force_on_the_last_day_applies(client, session, billing, gw, clock, admin):
    from tests.integration.test_settlements_support import contract

    renewed = operator(session, "P1", name="Odnowiony", fee_percent="5",
                       valid_to=date(2026, 11, 15))  # fmt: skip
    new_terms = contract(session, renewed.id, "P1", fee_percent="10",
                         valid_from=date(2026, 11, 16))  # fmt: skip
    ended = operator(session, "P1", name="Zakończony", fee_percent="5",
                     valid_to=date(2026, 11, 15))  # fmt: skip
    for op in (renewed, ended):
        two_sessions(session, billing, gw, op)

    november = settle(client, clock, admin, renewed, "2026-11", DECEMBER_2)
    assert november["terms"]["contract_id"] == new_terms.id
    assert Decimal(november["terms"]["fee_percent"]) == 10
    # 146.34 revenue; fee 10 % = 14.634 → 14.63; 131.71 net, 30.29 VAT
    assert (november["revenue_net"], november["fee_net"]) == ("146.34", "14.63")
    assert totals(november) == ("payout", "131.71", "30.29", "162.00")

    # A contract that ended mid-month and was not followed still settles its month...
    last = settle(client, clock, admin, ended, "2026-11", DECEMBER_2)
    assert last["terms"]["contract_id"] == ended.contract.id
    assert totals(last) == ("payout", "139.02", "31.97", "170.99")
    # ...and there is nothing after it.
    clock.now = JANUARY_2
    r = post(client, f.login(client, admin), ended.id, "2026-12")
    assert r.status_code == 409 and "contract" in r.get_json()["message"]


def test_monthly_billing_is_settled_from_the_months_receipt(
    client, session, billing, gw, clock, admin
):
    """P1 residents billed monthly: one receipt for November (180.00 gross, VAT split
    once over the document: 146.34 net), settled as §6 says; a November session billed
    after November was closed went into the driver's December, and so into December's
    settlement."""
    block = operator(session, "P1", name="Osiedle Miesięczne", fee_percent="5")
    company = block.place.setup.company
    price(session, block.place, energy="1.50", group=company, billing_mode="monthly")
    u = paying_driver(session, gw)
    for day, wh in ((3, 40_000), (17, 80_000)):
        charge = resident_session(session, billing, block, u, local(2026, 11, day, 22), wh)
        assert charge.status == "awaiting_period"
    [month] = billing.close_period(session, "2026-11", utc(2026, 12, 1, 13))
    assert (month.period, month.gross_minor, month.net_minor) == ("2026-11", 18000, 14634)
    late = resident_session(session, billing, block, u, local(2026, 11, 30, 20), 10_000,
                            now=utc(2026, 12, 1, 14))  # fmt: skip
    assert late.period == "2026-12"

    november = settle(client, clock, admin, block, "2026-11", DECEMBER_2)
    assert (november["revenue_net"], november["fee_net"]) == ("146.34", "7.32")
    assert totals(november) == ("payout", "139.02", "31.97", "170.99")
    got = items(client, f.login(client, admin), block.id, november["id"])
    assert [(x["kind"], x["reference"]) for x in got if x["kind"] == "receipt"] == [
        ("receipt", month.number)
    ]
    assert late.session_id not in {x["session_id"] for x in got}

    [december_receipt] = billing.close_period(session, "2026-12", utc(2027, 1, 1, 13))
    december = settle(client, clock, admin, block, "2026-12", JANUARY_2)
    # 15.00 gross = 12.20 net; fee 0.61; 11.59 net, 2.67 VAT
    assert (december["revenue_net"], december["fee_net"]) == ("12.20", "0.61")
    assert totals(december) == ("payout", "11.59", "2.67", "14.26")
    got = items(client, f.login(client, admin), block.id, december["id"])
    assert kinds(got) == [
        ("receipt", "2026-12", "12.20", december_receipt.id),
        ("session", "2026-12", "0.00", 0),
    ]
