"""Operator settlements on the real PostgreSQL, through the API: domain.md §6's four
business cases to the grosz from sessions billed by the real billing service; a period
settled once (again, twice in the job, two workers at once); the periods in the sites'
time zone; who may see and make them; SettlementReady told once."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from backend.db.models import Receipt
from backend.db.models.enums import Role
from backend.db.models.settlements import Payout, Settlement, SettlementItem
from backend.services import settlements
from backend.services.receipts_numbering import lock_counter
from tests import factories as f
from tests.integration.test_billing_support import fake_payments, guest_code, plan, price
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
    ready_notes,
    receipt_of,
    refund,
    settled,
    settlements_of,
    totals,
    utc,
    written,
)

DECEMBER_2 = utc(2026, 12, 2, 8, 0)  # November has ended everywhere


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


def as_admin(client, clock, admin):  # type: ignore[no-untyped-def]
    """An admin's headers, logged in at the clock's now (tokens live 15 minutes)."""
    return f.login(client, admin)


# --- domain.md §6, through the API, to the grosz --------------------------------------------


def residential_p1(session, billing, gw):  # type: ignore[no-untyped-def]
    """P1 block, 1.50 PLN/kWh gross for residents, fee 5 %: 40 and 80 kWh."""
    block = operator(session, "P1", name="Osiedle Zielone", fee_percent="5")
    price(session, block.place, energy="1.50", group=block.place.setup.company)
    resident = paying_driver(session, gw)
    company = block.place.setup.company
    charges = [
        billed(session, billing, block, resident, end=local(2026, 11, d, 22), wh=wh, group=company)
        for d, wh in ((4, 40_000), (17, 80_000))
    ]
    return block, charges


def test_p1_residential_block_to_the_grosz(client, session, billing, gw, clock, admin):
    block, charges = residential_p1(session, billing, gw)
    r1, r2 = (receipt_of(session, c) for c in charges)
    assert [(r.gross_minor, r.net_minor) for r in (r1, r2)] == [(6000, 4878), (12000, 9756)]

    clock.now = DECEMBER_2
    body = settled(client, as_admin(client, clock, admin), block.id, "2026-11")
    assert (body["business_case"], body["period"], body["currency"]) == ("P1", "2026-11", "PLN")
    assert (body["period_start"], body["period_end"]) == ("2026-11-01", "2026-11-30")
    assert (body["revenue_net"], body["fee_net"]) == ("146.34", "7.32")
    assert totals(body) == ("payout", "139.02", "31.97", "170.99")
    assert lines(body) == [("revenue", "146.34"), ("fee", "-7.32")]
    assert body["terms"]["contract_id"] == block.contract.id
    assert body["payout"]["amount"] == "170.99" and body["payout"]["currency"] == "PLN"
    # Every amount is traceable to the documents drivers were given.
    got = items(client, f.login(client, block.staff), block.id, body["id"])
    receipts = sorted((x["reference"], x["net"]) for x in got if x["kind"] == "receipt")
    assert receipts == [(r1.number, "48.78"), (r2.number, "97.56")]
    sessions = sorted(
        (x["session_id"], Decimal(x["energy_kwh"])) for x in got if x["kind"] == "session"
    )
    assert sessions == [(charges[0].session_id, Decimal(40)), (charges[1].session_id, Decimal(80))]
    assert {x["origin_period"] for x in got} == {"2026-11"}
    assert body["item_counts"] == {"receipt": 2, "session": 2}


def test_semi_university_to_the_grosz(client, session, billing, gw, clock, admin):
    """Company 1.20 and public 2.20 PLN/kWh gross; fee 10 % + 20.00 per charge point, 2."""
    uni = operator(
        session,
        "SEMI",
        name="Politechnika",
        charge_points=2,
        fee_percent="10",
        fee_fixed_per_cp="20.00",
    )
    setup = uni.place.setup
    # Neither a charge point installed after November (in Warsaw: 1 Dec, 00:30) nor one
    # not commissioned is under contract in November.
    later, unused = (f.charge_point(session, uni.place.site) for _ in range(2))
    later.created_at = utc(2026, 11, 30, 23, 30)
    unused.created_at, unused.commissioned = utc(2026, 1, 1), False
    price(session, uni.place, energy="1.20", group=setup.company)
    price(session, uni.place, energy="2.20", group=setup.public)
    employee, visitor = paying_driver(session, gw), paying_driver(session, gw, "Jan Gość")
    for day in (3, 10, 17):
        billed(session, billing, uni, employee, end=local(2026, 11, day, 16), wh=100_000,
               group=setup.company)  # fmt: skip
    for day in (5, 12):
        billed(session, billing, uni, visitor, end=local(2026, 11, day, 16), wh=100_000)
    nets = sorted(r.net_minor for r in session.scalars(select(Receipt)).all())
    assert nets == [9756, 9756, 9756, 17886, 17886]

    clock.now = DECEMBER_2
    body = settled(client, as_admin(client, clock, admin), uni.id, "2026-11")
    assert (body["revenue_net"], body["fee_net"], body["charge_points"]) == (
        "650.40",
        "105.04",
        2,
    )
    assert totals(body) == ("payout", "545.36", "125.43", "670.79")
    assert lines(body) == [("revenue", "650.40"), ("fee", "-65.04"), ("fee", "-40.00")]
    assert "2 charge point" in body["lines"][2]["description"]
    assert body["payout"]["amount"] == "670.79"


def test_pub_mall_pays_the_agreed_price_whatever_drivers_paid(
    client, session, billing, gw, clock, admin
):
    """1,000 kWh at 0.90 net agreed: 900.00 + 207.00 = 1,107.00, though the drivers paid
    under different plans, one got money back and one never paid at all."""
    mall = operator(session, "PUB", name="Galeria Mokotów", agreed="0.90")
    price(session, mall.place, model="platform_plan", energy="0")
    plan(session, None, code="pay-per-use", price="2.59")
    plus_driver = paying_driver(session, gw)
    plan(session, plus_driver, code="plus", price="1.99", fee="29.00")
    casual = paying_driver(session, gw, "Ewa Przechodnia")
    no_card = driver(session, name="Bez Karty")
    plus = billed(session, billing, mall, plus_driver, end=local(2026, 11, 5, 14), wh=400_000)
    ppu = billed(session, billing, mall, casual, end=local(2026, 11, 6, 14), wh=500_000)
    unpaid = billed(session, billing, mall, no_card, end=local(2026, 11, 7, 14), wh=100_000)
    assert (plus.gross_minor, ppu.gross_minor) == (79600, 129500)  # 1.99 and 2.59 per kWh
    assert unpaid.status == "payment_failed"
    refund(session, gw, mall, plus, "100.00", local(2026, 11, 20, 10))

    clock.now = DECEMBER_2
    body = settled(client, as_admin(client, clock, admin), mall.id, "2026-11")
    assert Decimal(body["energy_kwh"]) == Decimal("1000.000")
    assert (body["fee_net"], totals(body)) == ("0.00", ("payout", "900.00", "207.00", "1107.00"))
    assert lines(body) == [("agreed", "900.00")]
    assert body["payout"]["amount"] == "1107.00"


def test_p2_hotel_is_billed_its_fee_and_gets_no_payout(client, session, billing, gw, clock, admin):
    """A 30 kWh guest session at 2.00 gross is 48.78 net on the hotel's statement; the fee
    30.00 per charge point + 0.10 per kWh, one charge point: the hotel is billed 33.00."""
    hotel = operator(
        session, "P2", name="Hotel Bałtyk", fee_fixed_per_cp="30.00", fee_per_kwh="0.10"
    )
    price(session, hotel.place, energy="2.00", group=hotel.place.setup.company)
    guest = driver(session, language="nb", name="Øystein Ås")
    code = guest_code(session, hotel.place, guest)
    stay = billed(
        session,
        billing,
        hotel,
        guest,
        end=local(2026, 11, 20, 22),
        wh=30_000,
        code=code,
        group=hotel.place.setup.company,
    )
    assert (stay.status, stay.gross_minor, stay.net_minor) == ("operator_invoiced", 6000, 4878)
    assert gw.calls == []  # the guest's card is not charged

    clock.now = DECEMBER_2
    body = settled(client, as_admin(client, clock, admin), hotel.id, "2026-11")
    assert totals(body) == ("invoice", "33.00", "7.59", "40.59")
    assert (body["revenue_net"], body["fee_net"], body["payout"]) == ("48.78", "33.00", None)
    assert lines(body) == [("fee", "-30.00"), ("fee", "-3.00")]
    assert count(session, Payout) == 0
    # What the settlement counted as the hotel's guests' usage is its statement's total.
    statement = client.get(
        f"/operators/{hotel.id}/statements?period=2026-11", headers=f.login(client, hotel.staff)
    ).get_json()
    assert statement["totals"]["net"] == body["revenue_net"] == "48.78"
    [item] = items(client, f.login(client, hotel.staff), hotel.id, body["id"])
    assert (item["kind"], item["session_id"], item["net"]) == ("session", stay.session_id, "48.78")
    assert Decimal(item["energy_kwh"]) == Decimal(30)


def test_a_norwegian_operator_is_settled_in_nok_with_norwegian_vat(
    client, session, billing, gw, clock, admin
):
    """P1 in Oslo, 2.50 NOK/kWh gross, fee 5 %: 40 kWh = 100.00 NOK gross, 80.00 net
    (25 % VAT); fee 4.00; payout 76.00 net + 19.00 VAT = 95.00 NOK."""
    fjord = operator(session, "P1", name="Borettslag Fjord", country="NO",
                     timezone="Europe/Oslo", fee_percent="5")  # fmt: skip
    assert fjord.contract.currency == "NOK"
    price(session, fjord.place, energy="2.50", group=fjord.place.setup.company)
    u = paying_driver(session, gw)
    charge = billed(session, billing, fjord, u, end=local(2026, 11, 12, 20), wh=40_000,
                    group=fjord.place.setup.company)  # fmt: skip
    assert (charge.currency, charge.gross_minor, charge.net_minor) == ("NOK", 10000, 8000)

    clock.now = DECEMBER_2
    body = settled(client, as_admin(client, clock, admin), fjord.id, "2026-11")
    assert (body["currency"], Decimal(body["vat_rate"])) == ("NOK", Decimal("0.25"))
    assert (body["revenue_net"], body["fee_net"]) == ("80.00", "4.00")
    assert totals(body) == ("payout", "76.00", "19.00", "95.00")
    assert (body["payout"]["amount"], body["payout"]["currency"]) == ("95.00", "NOK")


# --- a period is settled once ---------------------------------------------------------------


def test_posting_a_period_again_returns_the_same_settlement_unchanged(
    client, session, billing, gw, clock, admin
):
    block, _ = residential_p1(session, billing, gw)
    clock.now = DECEMBER_2
    headers = as_admin(client, clock, admin)
    first = settled(client, headers, block.id, "2026-11")
    before = written(session)
    # A receipt of November arrives late (the session ended in November, billed now):
    # asking for November again still changes nothing (domain.md §5).
    late_driver = paying_driver(session, gw, "Spóźniony")
    billed(
        session,
        billing,
        block,
        late_driver,
        end=local(2026, 11, 30, 20),
        wh=10_000,
        group=block.place.setup.company,
        now=DECEMBER_2,
    )
    again = post(client, headers, block.id, "2026-11")
    assert again.status_code == 200, again.get_json()
    # (energy_kwh is compared as a number here; how it is written is checked below)
    assert {**again.get_json(), "energy_kwh": None} == {**first, "energy_kwh": None}
    assert written(session) == before == (1, 4, 1)
    assert [x.number for x in settlements_of(session, block.id)] == [first["number"]]
    listed = client.get(block.url, headers=f.login(client, block.staff)).get_json()
    assert [(x["id"], x["number"]) for x in listed] == [(first["id"], first["number"])]


def test_the_job_run_twice_settles_each_operator_once(session, billing, gw, clock, container):
    block, _ = residential_p1(session, billing, gw)
    hotel = operator(session, "P2", name="Hotel", fee_fixed_per_cp="30.00")
    ended = operator(
        session, "SEMI", name="Gone", fee_percent="10", valid_to=local(2026, 10, 31).date()
    )
    made = settlements.settle_due(session, container.notifications, DECEMBER_2)
    assert sorted((x.operator_id, x.period) for x in made) == [
        (block.id, "2026-11"),
        (hotel.id, "2026-11"),
    ]
    before = written(session)
    assert settlements.settle_due(session, container.notifications, DECEMBER_2) == []
    assert settlements.settle_due(session, container.notifications, utc(2026, 12, 5)) == []
    assert written(session) == before
    for op, n in ((block, 1), (hotel, 1), (ended, 0)):
        assert len(settlements_of(session, op.id)) == n
    numbers = sorted(x.number for x in made)
    assert numbers == ["ST/2026/000001", "ST/2026/000002"]  # gapless


def test_the_background_job_settles_once(session, billing, gw, container):
    from backend.jobs import settle_and_pay

    block, _ = residential_p1(session, billing, gw)
    assert settle_and_pay(session, container, DECEMBER_2) == 1
    assert settle_and_pay(session, container, DECEMBER_2) == 0
    [made] = settlements_of(session, block.id)
    payout = session.scalar(select(Payout).where(Payout.settlement_id == made.id))
    # No Stripe Connect in this world: a bank transfer of the gross, for staff to make.
    assert (payout.method, payout.status, payout.amount_minor) == ("bank", "to_transfer", 17099)


def race(factory, work):  # type: ignore[no-untyped-def]
    """Run `work(session)` in two threads, both started before either may write: a third
    transaction holds the settlement document counter's row lock, and lets go only when
    both threads wait on a lock (seen in pg_stat_activity: one at the counter, the other
    there too or behind whatever the first one holds). Returns (their results, their
    exceptions, whether both were seen waiting within a minute)."""
    with factory() as warm:  # the year's counter exists, so both wait on one row lock
        lock_counter(warm, settlements.SERIES, 2026)
        warm.commit()
    results: list[object] = []
    errors: list[BaseException] = []

    def worker() -> None:
        with factory() as s:
            try:
                results.append(work(s))
            except BaseException as exc:  # reported by the caller
                errors.append(exc)

    waiting, deadline = 0, time.monotonic() + 60
    with factory() as gate:
        lock_counter(gate, settlements.SERIES, 2026)  # FOR UPDATE, held until commit
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        with factory() as probe:
            while waiting < 2 and all(t.is_alive() for t in threads):
                if time.monotonic() > deadline:
                    break
                waiting = probe.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                    )
                ).scalar_one()
                probe.rollback()
        gate.commit()
        for t in threads:
            t.join(timeout=60)
    return results, errors, waiting == 2


def test_two_workers_settling_at_once_make_one_settlement(session, billing, gw, container):
    """Both workers gather the same receipts and sessions before either writes."""
    block, charges = residential_p1(session, billing, gw)
    outcomes, errors, raced = race(
        container.session_factory,
        lambda s: settlements.settle_period(s, block.id, "2026-11", DECEMBER_2),
    )
    assert errors == [], errors
    assert raced, "the two workers did not both reach the counter"
    assert sorted(o.created for o in outcomes) == [False, True]  # type: ignore[attr-defined]
    [only] = settlements_of(session, block.id)
    assert {o.settlement.id for o in outcomes} == {only.id}  # type: ignore[attr-defined]
    assert written(session) == (1, 4, 1)
    keys = session.scalars(select(SettlementItem.source_key)).all()
    assert sorted(keys) == sorted(
        [f"receipt:{c.receipt_id}" for c in charges] + [f"session:{c.session_id}" for c in charges]
    )
    assert (only.net_minor, only.vat_minor, only.gross_minor) == (13902, 3197, 17099)
    assert only.number == "ST/2026/000001"  # the loser's number was given back


def test_two_jobs_at_once_settle_and_tell_once(session, billing, gw, container):
    block, _ = residential_p1(session, billing, gw)
    colleague = f.user(session, Role.OPERATOR_STAFF, operator_id=block.id)
    session.commit()
    made, errors, raced = race(
        container.session_factory,
        lambda s: settlements.settle_due(s, container.notifications, DECEMBER_2),
    )
    assert errors == [], errors
    assert raced, "the two jobs did not both reach the counter"
    assert sorted(len(x) for x in made) == [0, 1]  # type: ignore[arg-type]
    [only] = settlements_of(session, block.id)
    assert written(session) == (1, 4, 1)
    for user in (block.staff, colleague):
        assert [n.data for n in ready_notes(session, user.id)] == [{"settlement_id": str(only.id)}]


def test_two_periods_settled_at_once_count_nothing_twice_and_fail_cleanly(
    session, billing, gw, container
):
    """November (the job) and December (an admin) of one operator at the same moment.
    Either November is made first and December takes only what is left, or December is
    made first (taking November's leftovers) and November is refused as a conflict
    (409 through the API); never a crash, never a receipt or session counted twice."""
    from backend.errors import Conflict

    block, _ = residential_p1(session, billing, gw)
    january_2 = utc(2027, 1, 2, 8)
    periods = iter(["2026-11", "2026-12"])
    pick = threading.Lock()

    def work(s):  # type: ignore[no-untyped-def]
        with pick:
            period = next(periods)
        return settlements.settle_period(s, block.id, period, january_2)

    outcomes, errors, raced = race(container.session_factory, work)
    assert raced, "the two settlements were not both under way at once"
    assert all(isinstance(e, Conflict) for e in errors), (
        f"DEFECT: settling two periods of one operator at once raised {errors!r}"
    )
    made = settlements_of(session, block.id)
    assert {o.settlement.id for o in outcomes} == {m.id for m in made}  # type: ignore[attr-defined]
    assert [m.period for m in made] in (["2026-11", "2026-12"], ["2026-12"])
    assert len(outcomes) + len(errors) == 2 and len(outcomes) == len(made)
    keys = session.scalars(select(SettlementItem.source_key)).all()
    assert len(keys) == len(set(keys)) == 4  # November's two receipts and sessions, once
    assert sum(m.net_minor for m in made) == 13902  # 139.02 paid out once, in all
    if len(made) == 2:
        assert made[1].net_minor == 0 and made[1].direction == "none"


def test_card_payments_at_a_hotel_are_settled_with_the_hotel(
    client, session, billing, gw, clock, admin
):
    """A hotel (P2) whose own staff charge with a permanent code, paying by card in the
    app (per_session, the default billing of a permanent code): the platform collected
    that money for the hotel, so its settlement must count the receipt."""
    hotel = operator(
        session, "P2", name="Hotel Bałtyk", fee_fixed_per_cp="30.00", fee_per_kwh="0.10"
    )
    company = hotel.place.setup.company
    price(session, hotel.place, energy="2.00", group=company)
    guest = driver(session, name="Gość")
    code = guest_code(session, hotel.place, guest)
    billed(session, billing, hotel, guest, end=local(2026, 11, 20, 22), wh=30_000, code=code,
           group=company)  # fmt: skip
    receptionist = paying_driver(session, gw, "Recepcjonistka")
    f.membership(session, receptionist, hotel.place.setup, [hotel.place.site])
    paid = billed(session, billing, hotel, receptionist, end=local(2026, 11, 21, 8),
                  wh=12_000, group=company)  # fmt: skip
    receipt = receipt_of(session, paid)
    assert (paid.status, receipt.kind, receipt.gross_minor) == ("paid", "receipt", 2400)

    clock.now = utc(2027, 1, 2, 8)
    headers = as_admin(client, clock, admin)
    body = settled(client, headers, hotel.id, "2026-11")
    got = items(client, headers, hotel.id, body["id"])
    assert receipt.id in {x["receipt_id"] for x in got}, (
        "DEFECT: 24.00 the platform collected by card at a hotel (P2) operator's site is "
        "not counted in the hotel's settlement: neither paid out nor set against its fee"
    )
    # Set against the fee: 30.00 per charge point + 0.10 × 42 kWh = 34.20; collected
    # 24.00 gross = 19.51 net; the hotel is billed 14.69 net + 3.38 VAT = 18.07.
    assert body["fee_net"] == "34.20"
    assert ("revenue", "19.51") in lines(body)
    assert totals(body) == ("invoice", "14.69", "3.38", "18.07")
    assert body["payout"] is None


def test_a_settlement_reads_the_same_every_time(client, session, billing, gw, clock, admin):
    """The 201 answer and every later read of the same document say the same, energy
    written to the Wh (0.001 kWh, domain.md §5) as the statements write it."""
    block, _ = residential_p1(session, billing, gw)
    clock.now = DECEMBER_2
    headers = as_admin(client, clock, admin)
    made = settled(client, headers, block.id, "2026-11")
    again = post(client, headers, block.id, "2026-11").get_json()
    one = client.get(f"{block.url}/{made['id']}", headers=headers).get_json()
    assert Decimal(made["energy_kwh"]) == Decimal(one["energy_kwh"]) == 120
    assert made["energy_kwh"] == again["energy_kwh"] == one["energy_kwh"] == "120.000", (
        "DEFECT: settlement energy_kwh is written differently by each read of the same "
        f"settlement: 201 {made['energy_kwh']!r}, 200 {again['energy_kwh']!r}, GET "
        f"{one['energy_kwh']!r}"
    )


# --- who may see and make settlements ---------------------------------------------------------

MISSING = 2**31 - 1


def answer(r):  # type: ignore[no-untyped-def]
    return r.status_code, r.get_json()


@pytest.fixture
def two_operators(client, session, billing, gw, clock, admin):  # type: ignore[no-untyped-def]
    """X and Y, each with November settled; a driver who charged at X."""
    x, _ = residential_p1(session, billing, gw)
    y = operator(session, "SEMI", name="Yttrium", fee_percent="10")
    price(session, y.place, energy="2.20")
    billed(session, billing, y, paying_driver(session, gw), end=local(2026, 11, 8, 9), wh=10_000)
    someone = f.user(session)
    session.commit()
    clock.now = DECEMBER_2
    headers = as_admin(client, clock, admin)
    sx, sy = (settled(client, headers, op.id, "2026-11") for op in (x, y))
    return x, y, sx, sy, someone


def test_another_operators_settlements_do_not_exist_for_staff(client, two_operators):
    x, y, sx, sy, _ = two_operators
    theirs = f.login(client, y.staff)
    for suffix in ("", f"/{sx['id']}", f"/{sx['id']}/items"):
        real = client.get(f"/operators/{x.id}/settlements{suffix}", headers=theirs)
        missing = client.get(f"/operators/{MISSING}/settlements{suffix}", headers=theirs)
        assert real.status_code == 404 and answer(real) == answer(missing), suffix
    # X's settlement under Y's own operator: exactly a settlement that does not exist.
    for suffix in ("", "/items"):
        real = client.get(f"/operators/{y.id}/settlements/{sx['id']}{suffix}", headers=theirs)
        missing = client.get(f"/operators/{y.id}/settlements/{MISSING}{suffix}", headers=theirs)
        assert real.status_code == 404 and answer(real) == answer(missing), suffix
    # Y's staff see Y's, and nothing of X's.
    own = client.get(f"/operators/{y.id}/settlements", headers=theirs)
    assert [s["id"] for s in own.get_json()] == [sy["id"]]
    assert {s["operator_id"] for s in own.get_json()} == {y.id}
    one = client.get(f"/operators/{y.id}/settlements/{sy['id']}", headers=theirs).get_json()
    assert (one["number"], one["net"]) == (sy["number"], sy["net"])
    assert client.get(f"/operators/{y.id}/settlements/{sy['id']}/items", headers=theirs).json


def test_drivers_may_not_see_settlements_and_staff_may_not_make_them(
    client, session, two_operators
):
    x, _, sx, _, someone = two_operators
    headers = f.login(client, someone)
    for suffix in ("", f"/{sx['id']}", f"/{sx['id']}/items"):
        r = client.get(f"/operators/{x.id}/settlements{suffix}", headers=headers)
        assert r.status_code == 403, (suffix, r.get_json())
    assert client.get(f"/operators/{x.id}/settlements").status_code == 401
    before = written(session)
    for who in (someone, x.staff):
        r = post(client, f.login(client, who), x.id, "2026-10")
        assert r.status_code == 403, r.get_json()
    assert written(session) == before


def test_a_missing_operator_has_no_settlements_for_an_admin_either(client, two_operators, admin):
    """Every other operator endpoint answers 404 for an operator that does not exist,
    whoever asks (e.g. GET /operators/{id}/contracts, /statements)."""
    headers = f.login(client, admin)
    contracts = client.get(f"/operators/{MISSING}/contracts", headers=headers)
    assert contracts.status_code == 404
    listed = client.get(f"/operators/{MISSING}/settlements", headers=headers)
    assert answer(listed) == answer(contracts), (
        "DEFECT: GET /operators/{missing}/settlements answers an admin "
        f"{answer(listed)} instead of 404 'No such operator.'"
    )


# --- SettlementReady ------------------------------------------------------------------------


def test_staff_are_told_once_per_settlement_however_often_the_job_runs(
    session, billing, gw, container
):
    block, _ = residential_p1(session, billing, gw)
    colleague = f.user(session, Role.OPERATOR_STAFF, operator_id=block.id)
    former = f.user(session, Role.OPERATOR_STAFF, operator_id=block.id)
    former.is_active = False
    other = operator(session, "P2", name="Hotel", fee_fixed_per_cp="30.00")
    session.commit()
    for now in (DECEMBER_2, utc(2026, 12, 2, 9), utc(2026, 12, 3)):
        settlements.settle_due(session, container.notifications, now)
    [mine] = settlements_of(session, block.id)
    [theirs] = settlements_of(session, other.id)
    for user in (block.staff, colleague):
        [note] = ready_notes(session, user.id)
        assert note.data == {"settlement_id": str(mine.id)}
        assert "170.99 PLN" in note.body  # the payout's gross
    [note] = ready_notes(session, other.staff.id)
    assert note.data == {"settlement_id": str(theirs.id)}
    assert ready_notes(session, former.id) == []  # no longer on the staff
    # December, next month: one more each.
    settlements.settle_due(session, container.notifications, utc(2027, 1, 2))
    settlements.settle_due(session, container.notifications, utc(2027, 1, 2, 1))
    assert [len(ready_notes(session, u.id)) for u in (block.staff, colleague, other.staff)] == [
        2,
        2,
        2,
    ]


def test_staff_are_told_once_when_an_admin_settles_and_the_job_runs_too(
    client, session, billing, gw, clock, admin, container
):
    block, _ = residential_p1(session, billing, gw)
    clock.now = DECEMBER_2
    headers = as_admin(client, clock, admin)
    made = settled(client, headers, block.id, "2026-11")
    assert post(client, headers, block.id, "2026-11").status_code == 200
    settlements.settle_due(session, container.notifications, DECEMBER_2)
    [note] = ready_notes(session, block.staff.id)
    assert note.data == {"settlement_id": str(made["id"])}
    assert session.get(Settlement, made["id"]).notified_at == DECEMBER_2
