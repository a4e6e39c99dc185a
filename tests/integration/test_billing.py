"""Billing ended sessions on the real PostgreSQL, with card payments on the in-memory fake
of our payment port: domain.md §6 examples as receipts to the grosz, each billing mode,
idempotence, DST, price history, the session-ended port through the bridge's outbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from backend.db.models import Notification, Payment, Receipt, SessionCharge, SessionOutbox
from backend.services import payment_refunds, session_outbox
from backend.services.billing_port import BillingSessionEndedPort
from backend.services.session_outbox import SessionEndedPort
from tests.integration.test_billing_support import (
    card,
    driver,
    ended_session,
    fake_payments,
    guest_code,
    local,
    place,
    plan,
    price,
)


@pytest.fixture
def gw(container):  # type: ignore[no-untyped-def]
    return fake_payments(container)


@pytest.fixture
def billing(container, gw):  # type: ignore[no-untyped-def]
    return container.session_billing


def content(r: Receipt) -> dict:
    return json.loads(r.content)


def hotel(session, **kw):  # type: ignore[no-untyped-def]
    """domain.md §6 hotel model: 2.40 PLN/kWh, idle 0.50 PLN/min 08:00–22:00, no grace."""
    p = place(session)
    v = price(
        session,
        p,
        model="fixed_with_idle",
        energy="2.40",
        idle="0.50",
        window=("08:00", "22:00"),
        **kw,
    )
    return p, v


def count(session, model) -> int:  # type: ignore[no-untyped-def]
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(model)))


# --- domain.md §6, as receipts -------------------------------------------------------------


def test_hotel_model_with_idle_fee_to_the_grosz(session, billing, gw, clock):
    p, v = hotel(session)
    u = driver(session)
    card(session, gw, u)
    row = ended_session(
        session,
        p,
        u,
        start=local(2026, 11, 20, 20, 0),
        full=local(2026, 11, 20, 21, 10),
        end=local(2026, 11, 20, 23, 30),
        meter_start=1_000_000,
        wh=18_500,
        version=v,
    )
    charge = billing.bill_ended_session(session, row.id, clock())
    assert (charge.status, charge.gross_minor, charge.net_minor, charge.vat_minor) == (
        "paid",
        6940,
        5642,
        1298,
    )
    assert (
        charge.idle_minutes == 50
        and charge.price_version_ref == f"site{p.site.id}-group{p.setup.public.id}-r1"
    )

    receipt = session.get(Receipt, charge.receipt_id)
    assert receipt.number == "WP/2026/000001" and receipt.kind == "receipt"
    assert (receipt.gross_minor, receipt.net_minor, receipt.vat_minor) == (6940, 5642, 1298)
    assert (receipt.card_brand, receipt.card_last4) == ("visa", "4242")
    doc = content(receipt)
    lines = [(x["kind"], x["quantity"], x["unit_price"], x["amount_minor"]) for x in doc["lines"]]
    assert lines == [("energy", "18.500", "2.40", 4440), ("idle", "50", "0.50", 2500)]
    [ses] = doc["sessions"]
    assert (ses["session_id"], ses["meter_start_wh"], ses["meter_stop_wh"]) == (
        row.id,
        1_000_000,
        1_018_500,
    )
    assert ses["price_version_id"] == v.id and ses["charge_point"] == p.cp.ocpp_identity
    assert doc["seller"]["name"] == "Wattpass sp. z o.o." and doc["seller"]["tax_id"]
    assert doc["buyer"]["name"] == "Zażółć Gęślą" and "00-238 Łódź" in doc["buyer"]["address"]
    assert doc["site"]["name"] == "Hotel Bałtyk Sopot"
    # The card: a hold placed now (no hold at the start: an RFID-like start), captured.
    hold = session.get(Payment, charge.payment_id)
    assert (hold.kind, hold.status, hold.captured_minor) == ("hold", "captured", 6940)
    # Every line is traceable: inputs name the meter readings and the version.
    inputs = json.loads(charge.inputs)
    assert (inputs["meter_start_wh"], inputs["meter_stop_wh"]) == ("1000000", "1018500")
    assert inputs["price_version_id"] == str(v.id)
    assert any("50 of 140 min" in text for text in json.loads(charge.explanation))


def test_hotel_model_unplugged_next_morning(session, billing, gw, clock):
    p, v = hotel(session)
    u = driver(session)
    card(session, gw, u)
    row = ended_session(
        session,
        p,
        u,
        start=local(2026, 11, 20, 20, 0),
        full=local(2026, 11, 20, 21, 10),
        end=local(2026, 11, 21, 8, 30),
        wh=18_500,
        version=v,
    )
    charge = billing.bill_ended_session(session, row.id, clock())
    receipt = session.get(Receipt, charge.receipt_id)
    assert charge.idle_minutes == 80
    assert (receipt.gross_minor, receipt.net_minor, receipt.vat_minor) == (8440, 6862, 1578)


def test_fixed_price_company_and_residential_examples(session, billing, gw, clock):
    """SEMI university company price 1.20 × 100 kWh; P1 residents 1.50 × 40 kWh."""
    uni = place(session, name="Politechnika")
    company = price(session, uni, energy="1.20", group=uni.setup.company)
    price(session, uni, energy="2.20")
    block = place(session, name="Osiedle Zielone")
    residents = price(session, block, energy="1.50", group=block.setup.company)
    u = driver(session)
    card(session, gw, u)
    a = ended_session(
        session,
        uni,
        u,
        start=local(2026, 11, 3, 8, 0),
        end=local(2026, 11, 3, 16, 0),
        wh=100_000,
        group=uni.setup.company,
    )
    b = ended_session(
        session,
        block,
        u,
        start=local(2026, 11, 4, 18, 0),
        end=local(2026, 11, 4, 23, 0),
        wh=40_000,
        version=residents,
    )
    first = billing.bill_ended_session(session, a.id, clock())
    second = billing.bill_ended_session(session, b.id, clock())
    assert first.price_version_id == company.id  # company group, looked up at its start
    r1, r2 = session.get(Receipt, first.receipt_id), session.get(Receipt, second.receipt_id)
    assert (r1.gross_minor, r1.net_minor, r1.vat_minor) == (12000, 9756, 2244)
    assert (r2.gross_minor, r2.net_minor, r2.vat_minor) == (6000, 4878, 1122)
    assert [r1.number, r2.number] == ["WP/2026/000001", "WP/2026/000002"]


def test_public_station_is_priced_with_the_drivers_plan(session, billing, gw, clock):
    mall = place(session, name="Galeria Mokotów")
    v = price(session, mall, model="platform_plan", energy="0")
    u = driver(session)
    plan(session, None, code="pay-per-use", price="2.59")
    plus = plan(session, u, code="plus", price="1.99", fee="29.00")
    card(session, gw, u)
    row = ended_session(
        session,
        mall,
        u,
        start=local(2026, 11, 5, 10, 0),
        end=local(2026, 11, 5, 11, 0),
        wh=25_000,
        version=v,
    )
    charge = billing.bill_ended_session(session, row.id, clock())
    assert charge.plan_id == plus.id
    receipt = session.get(Receipt, charge.receipt_id)
    # 25 kWh × 1.99 = 49.75 gross; net round(49.75 / 1.23) = 40.45; VAT 9.30
    assert (receipt.gross_minor, receipt.net_minor, receipt.vat_minor) == (4975, 4045, 930)
    [line] = content(receipt)["lines"]
    assert (line["unit_price"], line["plan"]) == ("1.99", {"code": "plus", "name": "Plus"})

    # A driver without a plan of their own is priced with the free pay-per-use plan.
    other = driver(session)
    card(session, gw, other)
    row2 = ended_session(
        session,
        mall,
        other,
        start=local(2026, 11, 5, 12, 0),
        end=local(2026, 11, 5, 13, 0),
        wh=25_000,
        version=v,
    )
    assert billing.bill_ended_session(session, row2.id, clock()).gross_minor == 6475


# --- the rules around it ---------------------------------------------------------------------


def test_a_second_biller_with_a_stale_view_does_not_tell_the_driver_again(
    session, billing, gw, clock, container
):  # type: ignore[no-untyped-def]
    # The session-ended port and the retry sweep can bill one session at the same time;
    # each read the charge before the other told the driver.
    from sqlalchemy.orm.attributes import set_committed_value

    p, v = hotel(session)
    u = driver(session)
    card(session, gw, u)
    row = ended_session(
        session,
        p,
        u,
        start=local(2026, 11, 20, 20, 0),
        full=local(2026, 11, 20, 21, 10),
        end=local(2026, 11, 20, 23, 30),
        wh=18_500,
        version=v,
    )
    billing.bill_ended_session(session, row.id, clock())
    assert count(session, Notification) == 1
    with container.session_factory() as other:
        stale = other.scalar(select(SessionCharge).where(SessionCharge.session_id == row.id))
        set_committed_value(stale, "notified_at", None)  # as read before the first told
        billing._notify(other, stale, clock())
        other.commit()
    assert count(session, Notification) == 1


def test_billing_twice_changes_nothing(session, billing, gw, clock):
    p, v = hotel(session)
    u = driver(session)
    card(session, gw, u)
    row = ended_session(
        session,
        p,
        u,
        start=local(2026, 11, 20, 20, 0),
        full=local(2026, 11, 20, 21, 10),
        end=local(2026, 11, 20, 23, 30),
        wh=18_500,
        version=v,
    )
    first = billing.bill_ended_session(session, row.id, clock())
    calls, notes = list(gw.calls), count(session, Notification)
    clock.advance(hours=1)
    again = billing.bill_ended_session(session, row.id, clock())
    assert (again.id, again.receipt_id, again.status) == (first.id, first.receipt_id, "paid")
    assert gw.calls == calls
    assert count(session, Receipt) == 1 and count(session, Payment) == 1
    assert count(session, Notification) == notes == 1
    note = session.scalar(select(Notification))
    assert note.kind == "session_ended" and "69,40" in note.body and "18,5" in note.body


def test_a_session_across_the_dst_change_is_priced_on_the_wall_clock(session, billing, gw, clock):
    """Night idle window 22:00–06:00; the clocks go back at 03:00 on 25 Oct 2026, so the
    night from 23:00 to 06:00 lasts 8 hours, all of them billed."""
    p = place(session)
    v = price(
        session, p, model="fixed_with_idle", energy="2.00", idle="0.10", window=("22:00", "06:00")
    )
    u = driver(session)
    card(session, gw, u)
    row = ended_session(
        session,
        p,
        u,
        start=local(2026, 10, 24, 21, 0),
        full=local(2026, 10, 24, 23, 0),
        end=local(2026, 10, 25, 7, 0),
        wh=10_000,
        version=v,
    )
    assert row.unplugged_at - row.car_full_at == (local(2026, 10, 25, 7) - local(2026, 10, 24, 23))
    charge = billing.bill_ended_session(session, row.id, clock())
    assert charge.idle_minutes == 480  # not 420: the repeated hour is billed
    assert charge.gross_minor == 2000 + 4800
    assert charge.period == "2026-10"


def test_a_price_change_after_the_start_does_not_change_the_receipt(session, billing, gw, clock):
    p = place(session)
    first = price(session, p, energy="2.40")
    u = driver(session)
    card(session, gw, u)
    start = datetime(2026, 11, 20, 19, 0, tzinfo=UTC)
    price(
        session,
        p,
        energy="3.00",
        revision=2,
        effective_from=datetime(2026, 11, 20, 19, 30, tzinfo=UTC),
    )
    row = ended_session(
        session, p, u, start=start, end=datetime(2026, 11, 20, 21, 0, tzinfo=UTC), wh=10_000
    )
    charge = billing.bill_ended_session(session, row.id, clock())
    receipt = session.get(Receipt, charge.receipt_id)
    assert charge.price_version_id == first.id and receipt.gross_minor == 2400
    assert content(receipt)["lines"][0]["price_version"].endswith("-r1")
    price(session, p, energy="9.99", revision=3, effective_from=datetime(2026, 11, 21, tzinfo=UTC))
    session.commit()
    assert billing.bill_ended_session(session, row.id, clock()).gross_minor == 2400
    assert session.get(Receipt, charge.receipt_id).gross_minor == 2400


def test_monthly_sessions_are_charged_once_at_period_close(session, billing, gw, clock):
    block = place(session, name="Osiedle Zielone")
    price(session, block, energy="1.50", billing_mode="monthly")
    u = driver(session)
    card(session, gw, u)
    rows = [
        ended_session(
            session, block, u, start=local(2026, 11, d, 18, 0), end=local(2026, 11, d, 22, 0), wh=wh
        )
        for d, wh in ((3, 40_000), (17, 80_000))
    ]
    for row in rows:
        charge = billing.bill_ended_session(session, row.id, clock())
        assert (charge.status, charge.period, charge.receipt_id) == (
            "awaiting_period",
            "2026-11",
            None,
        )
    assert count(session, Payment) == 0 and count(session, Receipt) == 0

    receipt = billing.close_month(session, u.id, block.site.id, "2026-11", clock())
    # 60.00 + 120.00 gross; VAT split once over the document: 146.34 net + 33.66 VAT
    assert (receipt.gross_minor, receipt.net_minor, receipt.vat_minor) == (18000, 14634, 3366)
    assert receipt.period == "2026-11" and len(content(receipt)["sessions"]) == 2
    assert [x["session_id"] for x in content(receipt)["lines"]] == [rows[0].id, rows[1].id]
    monthly = session.scalar(select(Payment))
    assert (monthly.kind, monthly.status, monthly.amount_minor) == ("monthly", "succeeded", 18000)
    assert billing.close_month(session, u.id, block.site.id, "2026-11", clock()).id == receipt.id
    assert count(session, Payment) == 1 and count(session, Receipt) == 1

    # A session of November billed after November was closed goes into December.
    late = ended_session(
        session,
        block,
        u,
        start=local(2026, 11, 30, 20, 0),
        end=local(2026, 11, 30, 23, 0),
        wh=10_000,
    )
    assert billing.bill_ended_session(session, late.id, clock()).period == "2026-12"


def test_hotel_guest_sessions_are_invoiced_by_the_hotel(session, billing, gw, clock):
    """domain.md §6 P2: a 30 kWh guest session shows 60.00 (48.78 + 11.22); no card."""
    p = place(session)
    price(session, p, energy="2.00", group=p.setup.company, billing_mode="per_session")
    guest = driver(session, language="nb", name="Øystein Ås")
    code = guest_code(session, p, guest)
    row = ended_session(
        session,
        p,
        guest,
        start=local(2026, 11, 20, 18, 0),
        end=local(2026, 11, 20, 22, 0),
        wh=30_000,
        code=code,
    )
    charge = billing.bill_ended_session(session, row.id, clock())
    assert (charge.billing_mode, charge.status) == ("operator_invoiced", "operator_invoiced")
    assert (charge.gross_minor, charge.net_minor, charge.vat_minor) == (6000, 4878, 1122)
    assert gw.calls == [] and count(session, Payment) == 0
    doc = session.get(Receipt, charge.receipt_id)
    assert (doc.kind, doc.number, doc.card_last4) == ("service_statement", "WP/S/2026/000001", "")
    assert content(doc)["invoiced_by"]["name"] == p.setup.operator.legal_name


def test_a_free_session_takes_nothing_and_issues_no_receipt(session, billing, gw, clock):
    p = place(session)
    price(session, p, energy="2.40")
    u = driver(session)
    card(session, gw, u)
    row = ended_session(
        session, p, u, start=local(2026, 11, 20, 20, 0), end=local(2026, 11, 20, 20, 5), wh=0
    )
    calls = list(gw.calls)
    charge = billing.bill_ended_session(session, row.id, clock())
    assert (charge.status, charge.receipt_id, gw.calls) == ("free", None, calls)


def test_no_card_is_a_failed_payment_without_receipt(session, billing, gw, clock):
    p = place(session)
    price(session, p, energy="2.40")
    u = driver(session)
    row = ended_session(
        session, p, u, start=local(2026, 11, 20, 20, 0), end=local(2026, 11, 20, 21, 0), wh=5_000
    )
    charge = billing.bill_ended_session(session, row.id, clock())
    assert (charge.status, charge.receipt_id) == ("payment_failed", None)
    assert "card" in charge.failure.lower()
    # With a card saved, the sweep collects it and issues the receipt.
    card(session, gw, u)
    billing.bill_pending(session, clock(), retry_failed=True)
    session.expire_all()
    charge = session.get(SessionCharge, charge.id)
    assert charge.status == "paid" and session.get(Receipt, charge.receipt_id).gross_minor == 1200


def test_a_session_with_no_price_is_recorded_for_review(session, billing, clock):
    p = place(session)  # no price version at all
    u = driver(session)
    row = ended_session(
        session, p, u, start=local(2026, 11, 20, 20, 0), end=local(2026, 11, 20, 21, 0), wh=5_000
    )
    charge = billing.bill_ended_session(session, row.id, clock())
    assert charge.status == "unbillable" and "No price" in charge.failure


def test_refunds_get_correction_notes_in_their_own_series(session, billing, gw, clock):
    from backend.db.models.enums import Role
    from shared.money import Money
    from tests import factories as f

    p, v = hotel(session)
    u = driver(session)
    card(session, gw, u)
    row = ended_session(
        session,
        p,
        u,
        start=local(2026, 11, 20, 20, 0),
        full=local(2026, 11, 20, 21, 10),
        end=local(2026, 11, 20, 23, 30),
        wh=18_500,
        version=v,
    )
    charge = billing.bill_ended_session(session, row.id, clock())
    staff = f.user(session, Role.OPERATOR_STAFF, operator_id=p.setup.operator.id)
    session.commit()
    admin = payment_refunds.Actor(staff.id, Role.OPERATOR_STAFF, p.setup.operator.id)
    payment_refunds.refund(
        session, gw, admin, charge.payment_id, Money.of("25.00", "PLN"), "Idle fee waived", clock()
    )
    [note] = billing.issue_corrections(session, clock())
    assert (note.kind, note.number) == ("correction", "WP/KOR/2026/000001")
    assert (note.gross_minor, note.net_minor, note.vat_minor) == (-2500, -2033, -467)
    assert note.corrects_id == charge.receipt_id
    assert content(note)["corrects"]["number"] == "WP/2026/000001"
    assert billing.issue_corrections(session, clock()) == []  # once per refund


# --- the session-ended port ---------------------------------------------------------------


def test_the_container_wires_billing_as_the_session_ended_port(container):
    port = container.session_ended
    assert isinstance(port, SessionEndedPort)
    while not isinstance(port, BillingSessionEndedPort):  # other ports may wrap billing
        port = port.inner
    assert port.session_factory is container.session_factory


def test_ending_a_session_through_the_outbox_bills_it(container, session, billing, gw, clock):
    p, v = hotel(session)
    u = driver(session)
    card(session, gw, u)
    row = ended_session(
        session,
        p,
        u,
        start=local(2026, 11, 20, 20, 0),
        full=local(2026, 11, 20, 21, 10),
        end=local(2026, 11, 20, 23, 30),
        wh=18_500,
        version=v,
    )
    session_outbox.enqueue(session, row, clock())
    session.commit()
    port = container.session_ended

    gw.down = True  # Stripe out of reach: the notice stays owed and is retried
    [owed] = session_outbox.due(session, clock())
    assert session_outbox.deliver(session, owed, port, clock()) is False
    outbox = session.get(SessionOutbox, owed)
    assert outbox.delivered_at is None and "PaymentProviderUnavailable" in outbox.last_error
    assert count(session, Receipt) == 0

    gw.down = False
    clock.advance(minutes=5)
    assert session_outbox.due(session, clock()) == [owed]
    assert session_outbox.deliver(session, owed, port, clock()) is True
    session.expire_all()
    charge = session.scalar(select(SessionCharge).where(SessionCharge.session_id == row.id))
    assert charge.status == "paid" and session.get(Receipt, charge.receipt_id).gross_minor == 6940
    # Delivered again (at least once): nothing changes.
    port.session_ended(session_outbox.event_of(session, row))
    assert count(session, Receipt) == 1
    assert count(session, Payment) == 1
