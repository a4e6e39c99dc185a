"""Closing a variable-cost (housing co-op) site's month on the real PostgreSQL, card
payments on the in-memory fake: domain.md §6's co-op example end to end to the grosz
(supply and meter readings entered through the API → sessions → close → shares →
charges → receipts), exact sums, the owner's rest, missing readings, closing once, the
site's time zone at the month's edges and DST months."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backend.db.models import CoopPeriod, CoopShare, Payment, Receipt, SessionCharge
from backend.db.models.enums import Role
from backend.services import billing_coop
from tests import factories as f
from tests.integration.test_billing_support import (
    card,
    driver,
    ended_session,
    fake_payments,
    local,
    place,
    price,
)

C11EM_EINVOICE = {
    "voltage_kv": "0.4",
    "contracted_kw": "22",
    "fuse_a": "40",
    "invoice_form": "einvoice",
}


@pytest.fixture
def gw(container):  # type: ignore[no-untyped-def]
    return fake_payments(container)


@pytest.fixture
def billing(container, gw):  # type: ignore[no-untyped-def]
    return container.session_billing


def count(session, model) -> int:  # type: ignore[no-untyped-def]
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(model)))


class Coop:
    """A co-op site priced by variable cost (monthly), its staff and its URLs."""

    def __init__(self, session, client, name: str = "Spółdzielnia Zielona") -> None:  # type: ignore[no-untyped-def]
        self.session, self.client = session, client
        self.place = place(session, name=name)
        self.version = price(
            session, self.place, model="variable_cost", energy="0", billing_mode="monthly"
        )
        self.staff_user = f.user(
            session, Role.OPERATOR_STAFF, operator_id=self.place.setup.operator.id
        )
        session.commit()
        self.base = f"/operators/{self.place.setup.operator.id}/sites/{self.place.site.id}"

    @property
    def site(self):  # type: ignore[no-untyped-def]
        return self.place.site

    def staff(self) -> dict[str, str]:
        return f.login(self.client, self.staff_user)  # tokens live 15 minutes: log in anew

    def supply(self, body: dict[str, str] = C11EM_EINVOICE) -> None:
        r = self.client.put(f"{self.base}/supply", json=body, headers=self.staff())
        assert r.status_code == 200, r.json

    def reading(self, day: str, register: str) -> int:
        body = {"read_on": day, "register_kwh": register}
        r = self.client.post(f"{self.base}/meter-readings", json=body, headers=self.staff())
        assert r.status_code == 201, r.json
        return int(r.json["id"])

    def close(self, period: str):  # type: ignore[no-untyped-def]
        return self.client.post(f"{self.base}/periods/{period}/close", headers=self.staff())

    def get(self, period: str):  # type: ignore[no-untyped-def]
        return self.client.get(f"{self.base}/periods/{period}", headers=self.staff())


def sessions_of(coop: Coop, billing, clock, u, kwhs, *, month: int = 11, year: int = 2026):  # type: ignore[no-untyped-def]
    """Ended sessions of `kwhs` kWh each in the month, billed: waiting for their cost."""
    out = []
    for i, kwh in enumerate(kwhs):
        day = 2 + 3 * i
        row = ended_session(
            coop.session,
            coop.place,
            u,
            start=local(year, month, day, 18, 0),
            end=local(year, month, day, 23, 0),
            wh=int(Decimal(kwh) * 1000),
        )
        charge = billing.bill_ended_session(coop.session, row.id, clock())
        assert (charge.status, charge.gross_minor) == ("awaiting_cost", 0)
        out.append(row)
    return out


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def receipt_of(session, u, site_id: int) -> Receipt:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.scalar(
        select(Receipt).where(Receipt.driver_id == u.id, Receipt.site_id == site_id)
    )


# --- domain.md §6, end to end -------------------------------------------------------------


def test_coop_example_to_the_grosz_end_to_end(session, client, billing, gw, clock):
    """C11em own use, e-invoice; 1,800 kWh metered: A 600, B 900, other loads 300.
    Cost 866.62 net; A 288.87, B 433.31, owner 144.44; with VAT 355.31, 532.97, 177.66."""
    coop = Coop(session, client)
    coop.supply()
    first = coop.reading("2026-11-01", "52340.5")
    last = coop.reading("2026-12-01", "54140.5")
    a, b = driver(session, name="Anna Nowak"), driver(session, name="Bartosz Kowal")
    card(session, gw, a)
    card(session, gw, b)
    a_rows = sessions_of(coop, billing, clock, a, ["250", "350"])
    b_rows = sessions_of(coop, billing, clock, b, ["333.333", "333.333", "233.334"])
    assert count(session, Payment) == 0

    clock.now = local(2026, 12, 1, 9, 0).astimezone(UTC)
    r = coop.close("2026-11")
    assert r.status_code == 200, r.json
    body = r.json
    assert body["period"] == "2026-11" and body["status"] == "closed"
    assert body["tariff"] == {
        "id": body["tariff"]["id"],
        "group": "C11em",
        "invoice_form": "einvoice",
    }
    assert [x["id"] for x in body["meter_readings"]] == [first, last]
    assert [x["register_kwh"] for x in body["meter_readings"]] == ["52340.50", "54140.50"]
    assert (body["metered_kwh"], body["drivers_kwh"], body["owner_kwh"]) == (
        "1800.00",
        "1500.00",
        "300.00",
    )
    assert body["cost"]["net"] == "866.62"
    assert [x["amount"] for x in body["cost_lines"]] == ["838.62", "28.00"]
    assert (body["cost_per_kwh_net"], body["cost_per_kwh_gross"]) == ("0.481456", "0.59219")
    shares = {x["driver_id"]: x for x in body["shares"]}
    assert (shares[a.id]["net"], shares[a.id]["vat"], shares[a.id]["gross"]) == (
        "288.87",
        "66.44",
        "355.31",
    )
    assert (shares[b.id]["net"], shares[b.id]["gross"]) == ("433.31", "532.97")
    assert (body["owner"]["net"], body["owner"]["gross"]) == ("144.44", "177.66")
    assert [x["session_id"] for x in shares[a.id]["sessions"]] == [x.id for x in a_rows]
    assert [x["session_id"] for x in shares[b.id]["sessions"]] == [x.id for x in b_rows]
    # Exact: drivers + owner = the supplier's cost, net and gross.
    nets = [Decimal(x["net"]) for x in body["shares"]] + [Decimal(body["owner"]["net"])]
    assert sum(nets) == Decimal("866.62")

    # Each driver charged once for the site and month, the share exactly; one receipt.
    session.expire_all()
    payments = {p.driver_id: p for p in session.scalars(select(Payment))}
    assert {d: (p.kind, p.status, p.amount_minor, p.period) for d, p in payments.items()} == {
        a.id: ("monthly", "succeeded", 35531, "2026-11"),
        b.id: ("monthly", "succeeded", 53297, "2026-11"),
    }
    ra, rb = receipt_of(session, a, coop.site.id), receipt_of(session, b, coop.site.id)
    assert (ra.gross_minor, ra.net_minor, ra.vat_minor, ra.period) == (
        35531,
        28887,
        6644,
        "2026-11",
    )
    assert (rb.gross_minor, rb.net_minor, rb.vat_minor) == (53297, 43331, 9966)
    lines = json.loads(rb.content)["lines"]
    assert [(x["quantity"], x["unit"], x["unit_price"]) for x in lines] == [
        ("333.333", "kWh", "0.59219"),
        ("333.333", "kWh", "0.59219"),
        ("233.334", "kWh", "0.59219"),
    ]
    assert sum(x["amount_minor"] for x in lines) == 53297
    assert [x["session_id"] for x in lines] == [x.id for x in b_rows]
    assert all(x["cost_period"]["id"] == body["id"] for x in lines)
    # A line's amount is its kWh × the period's cost per kWh, to within the grosz the
    # largest remainder moves.
    for x in lines:
        exact = Decimal(x["quantity"]) * Decimal(x["unit_price"]) * 100
        assert abs(x["amount_minor"] - exact) <= 1
    sessions = json.loads(ra.content)["sessions"]
    assert [(x["meter_start_wh"], x["meter_stop_wh"]) for x in sessions] == [
        (1_000_000, 1_250_000),
        (1_000_000, 1_350_000),
    ]
    statuses = {c.status for c in session.scalars(select(SessionCharge))}
    assert statuses == {"paid"}
    # The driver reads it in the app, as JSON and as PDF.
    headers = f.login(client, b)
    shown = client.get(f"/me/receipts/{rb.id}", headers=headers)
    assert shown.status_code == 200 and shown.json["gross"] == "532.97"
    pdf = client.get(f"/me/receipts/{rb.id}/pdf", headers=headers)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"

    # The stored result reads the same, and traces to the readings and the tariff.
    got = coop.get("2026-11")
    assert got.status_code == 200 and got.json["shares"] == body["shares"]
    assert got.json["shares"][0]["sessions"][0]["status"] == "paid"
    stored = session.scalar(select(CoopPeriod))
    assert (stored.start_reading_id, stored.end_reading_id) == (first, last)
    assert stored.tariff_id == body["tariff"]["id"]
    assert any("465.9" in line for line in got.json["explanation"])


def test_closing_twice_is_refused_and_changes_nothing(session, client, billing, gw, clock):
    coop = Coop(session, client)
    coop.supply()
    coop.reading("2026-11-01", "1000")
    coop.reading("2026-12-01", "1100")
    u = driver(session)
    card(session, gw, u)
    sessions_of(coop, billing, clock, u, ["40"])
    clock.now = local(2026, 12, 2, 8, 0).astimezone(UTC)
    first = coop.close("2026-11")
    assert first.status_code == 200, first.json
    before = (count(session, Payment), count(session, Receipt), count(session, CoopShare))

    again = coop.close("2026-11")
    assert again.status_code == 409 and again.json["code"] == "period_closed"
    assert "already closed" in again.json["message"]
    # The period close of the batch does not close it again either.
    assert billing.close_period(session, "2026-11", clock()) == []
    assert (count(session, Payment), count(session, Receipt), count(session, CoopShare)) == before
    assert count(session, CoopPeriod) == 1
    assert coop.get("2026-11").json == first.json


def test_missing_reading_waits_with_a_clear_error_and_charges_nothing(
    session, client, billing, gw, clock
):
    coop = Coop(session, client)
    coop.supply()
    coop.reading("2026-11-01", "1000")
    u = driver(session)
    card(session, gw, u)
    sessions_of(coop, billing, clock, u, ["40"])
    clock.now = local(2026, 12, 3, 8, 0).astimezone(UTC)

    r = coop.close("2026-11")
    assert r.status_code == 409 and r.json["code"] == "period_not_ready"
    assert "meter reading is missing for 2026-12-01" in r.json["message"]
    assert r.json["errors"] == {"readings": ["2026-12-01"]}
    assert billing.close_period(session, "2026-11", clock()) == []
    assert count(session, CoopPeriod) == 0 and count(session, Payment) == 0
    assert {c.status for c in session.scalars(select(SessionCharge))} == {"awaiting_cost"}
    assert coop.get("2026-11").status_code == 404

    coop.reading("2026-12-01", "1100")
    assert coop.close("2026-11").status_code == 200
    assert count(session, Payment) == 1


def test_without_a_supply_connection_or_before_the_month_ends_the_close_waits(
    session, client, billing, gw, clock
):
    coop = Coop(session, client)
    u = driver(session)
    sessions_of(coop, billing, clock, u, ["10"])
    r = coop.close("2026-11")  # now is 20 Nov
    assert r.status_code == 409 and "has not ended yet" in r.json["message"]
    clock.now = local(2026, 12, 1, 0, 0).astimezone(UTC)
    r = coop.close("2026-11")
    assert r.status_code == 409 and "supply connection" in r.json["message"]
    assert coop.close("2026-13").status_code == 422
    assert count(session, CoopPeriod) == 0


def test_a_fixed_price_site_has_no_cost_period(session, client, billing, gw, clock):
    p = place(session, name="Biurowiec")
    price(session, p, energy="1.50")
    staff = f.user(session, Role.OPERATOR_STAFF, operator_id=p.setup.operator.id)
    session.commit()
    clock.now = datetime(2026, 12, 5, tzinfo=UTC)
    url = f"/operators/{p.setup.operator.id}/sites/{p.site.id}/periods/2026-11/close"
    r = client.post(url, headers=f.login(client, staff))
    assert r.status_code == 409 and "not priced by variable cost" in r.json["message"]


def test_shares_sum_exactly_and_the_owner_gets_the_rest(session, client, billing, gw, clock):
    """Three drivers with awkward kWh: every share, every session amount and every
    receipt add up to the grosz; the meter's other loads go to the owner."""
    coop = Coop(session, client)
    coop.supply({**C11EM_EINVOICE, "invoice_form": "paper"})
    coop.reading("2026-11-01", "0")
    coop.reading("2026-12-01", "1000.001")
    drivers = [driver(session) for _ in range(3)]
    for u in drivers:
        card(session, gw, u)
    kwhs = [["33.333", "66.667", "0.001"], ["100.333"], ["7.777", "7.777", "7.777"]]
    for u, k in zip(drivers, kwhs, strict=True):
        sessions_of(coop, billing, clock, u, k)
    clock.now = local(2026, 12, 1, 6, 0).astimezone(UTC)
    body = coop.close("2026-11").json

    # 1.000001 MWh × 465.90 = 465.9004659 → 465.90; + 35.00 paper fee = 500.90
    assert body["cost"]["net"] == "500.90"
    nets = [Decimal(x["net"]) for x in body["shares"]] + [Decimal(body["owner"]["net"])]
    assert sum(nets) == Decimal("500.90")
    assert Decimal(body["owner_kwh"]) == Decimal("1000.001") - Decimal("223.665")
    session.expire_all()
    for share in session.scalars(select(CoopShare)):
        charges = session.scalars(
            select(SessionCharge).where(SessionCharge.driver_id == share.driver_id)
        ).all()
        assert sum(c.gross_minor for c in charges) == share.gross_minor
        assert sum(c.net_minor for c in charges) == share.net_minor
        receipt = receipt_of(session, type("U", (), {"id": share.driver_id}), coop.site.id)
        assert receipt.gross_minor == share.gross_minor
        payment = session.scalar(select(Payment).where(Payment.driver_id == share.driver_id))
        assert payment.amount_minor == share.gross_minor


# --- the site's time zone ------------------------------------------------------------------


def test_a_session_at_23_30_on_the_last_day_belongs_to_that_month(
    session, client, billing, gw, clock
):
    coop = Coop(session, client)
    coop.supply()
    coop.reading("2026-11-01", "1000")
    coop.reading("2026-12-01", "1100")
    u = driver(session)
    card(session, gw, u)
    # 30 Nov 23:30 in Warsaw is 22:30 UTC: November. 1 Dec 00:30 Warsaw is still
    # 30 Nov in UTC, but December on the site's wall clock.
    late = ended_session(session, coop.place, u, start=local(2026, 11, 30, 21, 0),
                         end=local(2026, 11, 30, 23, 30), wh=20_000)  # fmt: skip
    december = ended_session(session, coop.place, u, start=local(2026, 11, 30, 22, 0),
                             end=local(2026, 12, 1, 0, 30), wh=30_000)  # fmt: skip
    assert december.unplugged_at.astimezone(UTC).day == 30
    charges = [billing.bill_ended_session(session, x.id, clock()) for x in (late, december)]
    assert [c.period for c in charges] == ["2026-11", "2026-12"]

    clock.now = local(2026, 12, 1, 1, 0).astimezone(UTC)
    body = coop.close("2026-11").json
    assert [x["session_id"] for x in body["shares"][0]["sessions"]] == [late.id]
    assert body["drivers_kwh"] == "20.00"
    session.expire_all()
    assert session.get(SessionCharge, charges[1].id).status == "awaiting_cost"


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        # DST ends 25 Oct 2026: the month starts at UTC+2 and ends at UTC+1.
        ("2026-10", utc(2026, 9, 30, 22), utc(2026, 10, 31, 23)),
        # DST starts 29 Mar 2026: the month starts at UTC+1 and ends at UTC+2.
        ("2026-03", utc(2026, 2, 28, 23), utc(2026, 3, 31, 22)),
    ],
)
def test_dst_months_run_from_local_midnight_to_local_midnight(period, start, end):
    m = billing_coop.month(period, "Europe/Warsaw")
    assert (m.start, m.end) == (start, end)


def test_a_dst_month_closes_with_its_edge_sessions(session, client, billing, gw, clock):
    """October 2026 (25 hours on 25 Oct): a session ending 1 Oct 00:30 local (30 Sep
    22:30 UTC) and one ending 31 Oct 23:30 local (22:30 UTC) are both October's."""
    coop = Coop(session, client)
    coop.supply()
    coop.reading("2026-10-01", "500")
    coop.reading("2026-11-01", "800")
    u = driver(session)
    card(session, gw, u)
    rows = [
        ended_session(session, coop.place, u, start=local(2026, 9, 30, 22, 0),
                      end=local(2026, 10, 1, 0, 30), wh=100_000),
        ended_session(session, coop.place, u, start=local(2026, 10, 25, 1, 0),
                      end=local(2026, 10, 25, 4, 0), wh=50_000),
        ended_session(session, coop.place, u, start=local(2026, 10, 31, 20, 0),
                      end=local(2026, 10, 31, 23, 30), wh=50_000),
    ]  # fmt: skip
    charges = [billing.bill_ended_session(session, x.id, clock()) for x in rows]
    assert {c.period for c in charges} == {"2026-10"}
    r = coop.close("2026-10")  # now is 20 Nov: October is over
    assert r.status_code == 200, r.json
    # 0.3 MWh × 465.90 + 28.00 = 167.77; 200 of 300 kWh are the driver's: 111.85
    assert r.json["cost"]["net"] == "167.77"
    assert (r.json["shares"][0]["net"], r.json["owner"]["net"]) == ("111.85", "55.92")
    assert len(r.json["shares"][0]["sessions"]) == 3
    assert receipt_of(session, u, coop.site.id).period == "2026-10"


# --- the batch and late sessions ---------------------------------------------------------------


def test_close_period_closes_coop_sites_whose_readings_are_complete(
    session, client, billing, gw, clock
):
    ready, waiting = Coop(session, client, "Gotowa"), Coop(session, client, "Czekająca")
    for coop in (ready, waiting):
        coop.supply()
        coop.reading("2026-11-01", "1000")
    ready.reading("2026-12-01", "1300")
    u = driver(session)
    card(session, gw, u)
    sessions_of(ready, billing, clock, u, ["100"])
    sessions_of(waiting, billing, clock, u, ["100"])
    clock.now = local(2026, 12, 1, 3, 0).astimezone(UTC)

    receipts = billing.close_period(session, "2026-11", clock())
    assert [r.site_id for r in receipts] == [ready.site.id]
    assert billing.close_period(session, "2026-11", clock()) == []  # nothing waits any more
    session.expire_all()
    assert session.scalars(select(CoopPeriod.site_id)).all() == [ready.site.id]
    waiting_charge = session.scalar(
        select(SessionCharge).where(SessionCharge.site_id == waiting.site.id)
    )
    assert waiting_charge.status == "awaiting_cost"
    assert count(session, Payment) == 1


def test_a_late_session_of_a_closed_month_goes_into_the_next_close(
    session, client, billing, gw, clock
):
    coop = Coop(session, client)
    coop.supply()
    for day, register in (("2026-11-01", "0"), ("2026-12-01", "100"), ("2027-01-01", "300")):
        coop.reading(day, register)
    u = driver(session)
    card(session, gw, u)
    sessions_of(coop, billing, clock, u, ["50"])
    clock.now = local(2026, 12, 1, 8, 0).astimezone(UTC)
    assert coop.close("2026-11").status_code == 200
    # A November session reaches billing only now (the charger was offline).
    late = sessions_of(coop, billing, clock, u, ["20"])[0]
    sessions_of(coop, billing, clock, u, ["30"], month=12)
    clock.now = local(2027, 1, 1, 8, 0).astimezone(UTC)
    body = coop.close("2026-12").json
    assert late.id in [x["session_id"] for x in body["shares"][0]["sessions"]]
    assert body["drivers_kwh"] == "50.00"
    session.expire_all()
    charge = session.scalar(select(SessionCharge).where(SessionCharge.session_id == late.id))
    assert (charge.period, charge.status) == ("2026-12", "paid")


def test_a_month_is_variable_cost_when_a_version_in_force_in_it_is(
    session, client, billing, gw, clock
):
    """Variable cost until October, fixed from 1 November: October closes, November has
    nothing to close; a switch to variable cost in mid-December makes December one."""
    coop = Coop(session, client)
    price(session, coop.place, energy="1.50", revision=2, effective_from=local(2026, 11, 1))
    price(session, coop.place, model="variable_cost", energy="0", billing_mode="monthly",
          revision=3, effective_from=local(2026, 12, 15))  # fmt: skip
    session.commit()
    coop.supply()
    for day, register in (("2026-10-01", "0"), ("2026-11-01", "10"), ("2026-12-01", "20")):
        coop.reading(day, register)
    coop.reading("2027-01-01", "30")
    clock.now = local(2027, 1, 2, 12, 0).astimezone(UTC)
    assert coop.close("2026-10").status_code == 200
    november = coop.close("2026-11")
    assert november.status_code == 409 and "not priced by variable cost" in november.json["message"]
    assert coop.close("2026-12").status_code == 200
