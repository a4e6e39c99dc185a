"""Operator pricing, driver quotes and previews, OCPI export — through the API on Postgres."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from backend.db.models import Membership, OperatorContract
from backend.db.models.enums import Role
from backend.db.models.pricing import DriverPlan, Plan
from tests import factories as f

WAW = ZoneInfo("Europe/Warsaw")
HOTEL = {
    "model": "fixed_with_idle",
    "energy_per_kwh": "2.40",
    "idle_per_minute": "0.50",
    "idle_window_start": "08:00",
    "idle_window_end": "22:00",
}


def contract(session, op, case, **kw):
    session.add(
        OperatorContract(
            operator_id=op.operator.id,
            business_case=case,
            currency="PLN",
            valid_from=date(2026, 1, 1),
            **kw,
        )
    )


@pytest.fixture
def world(session, client):
    op = f.operator(session, "Hotel")
    contract(session, op, "SEMI")
    site = f.site(session, op, visibility="semi_public")
    cp = f.charge_point(session, site)
    other = f.operator(session, "Other")
    staff = f.user(session, Role.OPERATOR_STAFF, operator_id=op.operator.id)
    stranger = f.user(session, Role.OPERATOR_STAFF, operator_id=other.operator.id)
    driver = f.user(session, Role.DRIVER)
    member = f.user(session, Role.DRIVER)
    session.commit()
    m = Membership(
        driver_id=member.id,
        operator_id=op.operator.id,
        price_group_id=op.company.id,
        source="code",
        billing_mode="per_session",
        starts_at=datetime(2026, 1, 1, tzinfo=WAW),
    )
    m.sites = [site]
    session.add(m)
    session.commit()
    return {
        "op": op,
        "site": site,
        "cp": cp,
        "staff": f.login(client, staff),
        "stranger": f.login(client, stranger),
        "driver": f.login(client, driver),
        "member": f.login(client, member),
    }


def prices_url(w, group=None):
    base = f"/operators/{w['op'].operator.id}/sites/{w['site'].id}/prices"
    return f"{base}/{group}" if group else base


def put_price(client, w, group, body, etag=None):
    if etag is None:
        etag = client.get(prices_url(w), headers=w["staff"]).headers["ETag"]
    return client.put(prices_url(w, group), json=body, headers={**w["staff"], "If-Match": etag})


def test_set_price_with_etag_and_history(client, world, clock):
    w = world
    r = client.get(prices_url(w), headers=w["staff"])
    assert r.status_code == 200 and r.json["versions"] == []
    etag = r.headers["ETag"]
    # no If-Match: 428; stale If-Match: 412; nothing is written in either case
    no_match = client.put(prices_url(w, w["op"].public.id), json=HOTEL, headers=w["staff"])
    assert no_match.status_code == 428
    assert put_price(client, w, w["op"].public.id, HOTEL, etag).status_code == 200
    stale = put_price(client, w, w["op"].public.id, {**HOTEL, "energy_per_kwh": "9.99"}, etag)
    assert stale.status_code == 412
    clock.advance(minutes=5)
    later = {**HOTEL, "energy_per_kwh": "2.60", "effective_from": "2026-11-21T00:00:00+01:00"}
    r = put_price(client, w, w["op"].public.id, later)
    assert r.status_code == 200
    statuses = [(v["revision"], v["energy_per_kwh"], v["status"]) for v in r.json["versions"]]
    assert [(rev, Decimal(p), st) for rev, p, st in statuses] == [
        (1, Decimal("2.40"), "in_force"),
        (2, Decimal("2.60"), "scheduled"),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**HOTEL, "energy_per_kwh": "-1"}, "energy_per_kwh"),
        # Beyond what NUMERIC(18, 6) holds: refused, not a failed insert (the API fuzzer).
        ({**HOTEL, "energy_per_kwh": "393372269361581"}, "energy_per_kwh"),
        ({**HOTEL, "idle_per_minute": "0.1234567"}, "idle_per_minute"),
        ({**HOTEL, "idle_window_start": "25:00"}, "idle_window_start"),
        ({**HOTEL, "currency": "EUR"}, "currency"),
        ({**HOTEL, "effective_from": "2020-01-01T00:00:00+00:00"}, "effective_from"),
        ({**HOTEL, "idle_window_end": None}, "idle_window_end"),
        ({"model": "platform_plan"}, "model"),
        ({"model": "variable_cost", "billing_mode": "per_session"}, "billing_mode"),
    ],
)
def test_invalid_prices_are_422_and_nothing_is_stored(client, world, body, field):
    r = put_price(client, world, world["op"].public.id, body)
    assert r.status_code == 422, r.json
    assert field in r.json["errors"]
    assert client.get(prices_url(world), headers=world["staff"]).json["versions"] == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("price_per_kwh", "711732067752590"), ("monthly_fee", "1093.24881090227683")],
)
def test_a_plan_amount_the_database_cannot_hold_is_422(client, session, field, value):
    # Found by the API fuzzer: the insert failed (numeric field overflow, a 500), or the
    # amount would have been rounded to 6 places without a word.
    admin = f.user(session, Role.PLATFORM_ADMIN)
    session.commit()
    plan = {"code": "big", "name": "Big", "currency": "PLN", "price_per_kwh": "2.59"}
    r = client.post(
        "/plans", json={**plan, "monthly_fee": "0", field: value}, headers=f.login(client, admin)
    )
    assert r.status_code == 422, r.json
    assert set(r.json["errors"]) == {field}
    assert client.get("/plans").json == []


def test_other_operator_sees_nothing(client, world):
    assert client.get(prices_url(world), headers=world["stranger"]).status_code == 404
    r = client.put(
        prices_url(world, world["op"].public.id),
        json=HOTEL,
        headers={**world["stranger"], "If-Match": "x"},
    )
    assert r.status_code == 404


def test_driver_quote_depends_on_price_group(client, world):
    w = world
    put_price(client, w, w["op"].public.id, {"model": "fixed", "energy_per_kwh": "2.20"})
    put_price(client, w, w["op"].company.id, {"model": "fixed", "energy_per_kwh": "1.20"})
    url = f"/charge-points/{w['cp'].id}/price"
    public = client.get(url, headers=w["driver"]).json
    company = client.get(url, headers=w["member"]).json
    anonymous = client.get(url).json
    assert (public["energy_per_kwh"], public["price_group"]["kind"]) == ("2.20", "public")
    assert (company["energy_per_kwh"], company["member"]) == ("1.20", True)
    assert anonymous["energy_per_kwh"] == "2.20"


def test_preview_reproduces_hotel_example(client, world, clock):
    w = world
    put_price(client, w, w["op"].public.id, HOTEL)
    # car full at 21:10 local, 140 minutes later unplugged: 50 of them in the window
    clock.now = datetime(2026, 11, 20, 21, 10, tzinfo=WAW)
    r = client.get(f"/charge-points/{w['cp'].id}/price-preview?kwh=18.5&idle_minutes=140")
    assert r.status_code == 200, r.json
    body = r.json
    assert (body["gross"], body["net"], body["vat"]) == ("69.40", "56.42", "12.98")
    assert body["billable_idle_minutes"] == 50
    assert any("idle fee" in x for x in body["quote"]["warnings"])


def test_session_priced_with_version_in_force_at_start(client, world, clock):
    w = world
    put_price(client, w, w["op"].public.id, {"model": "fixed", "energy_per_kwh": "2.00"})
    put_price(
        client,
        w,
        w["op"].public.id,
        {"model": "fixed", "energy_per_kwh": "3.00", "effective_from": "2026-11-20T13:00:00+00:00"},
    )
    url = f"/charge-points/{w['cp'].id}/price"
    assert client.get(url).json["energy_per_kwh"] == "2.00"
    clock.advance(hours=1)
    assert client.get(url).json["energy_per_kwh"] == "3.00"


def test_pub_station_needs_a_plan(client, world, session, clock):
    op = f.operator(session, "Mall")
    contract(session, op, "PUB", agreed_price_per_kwh_net=Decimal("0.90"))
    site = f.site(session, op, visibility="public")
    cp = f.charge_point(session, site)
    admin = f.user(session, Role.PLATFORM_ADMIN)
    session.commit()
    admin_h = f.login(client, admin)
    r = client.post(
        "/plans",
        headers=admin_h,
        json={
            "code": "pay-per-use",
            "name": "Pay per use",
            "currency": "PLN",
            "price_per_kwh": "2.59",
            "monthly_fee": "0",
        },
    )
    assert r.status_code == 201
    etag = client.get(
        f"/operators/{op.operator.id}/sites/{site.id}/prices", headers=admin_h
    ).headers["ETag"]
    r = client.put(
        f"/operators/{op.operator.id}/sites/{site.id}/prices/{op.public.id}",
        json={"model": "platform_plan"},
        headers={**admin_h, "If-Match": etag},
    )
    assert r.status_code == 200, r.json
    q = client.get(f"/charge-points/{cp.id}/price", headers=world["driver"]).json
    assert q["plan_required"] and q["plan"] is None and q["energy_per_kwh"] is None
    r = client.post(
        "/me/plans",
        headers=world["driver"],
        json={"plan_code": "pay-per-use", "accept_terms": False},
    )
    assert r.status_code == 422
    r = client.post(
        "/me/plans",
        headers=world["driver"],
        json={"plan_code": "pay-per-use", "accept_terms": True},
    )
    assert r.status_code == 200
    q = client.get(f"/charge-points/{cp.id}/price", headers=world["driver"]).json
    assert q["plan"]["code"] == "pay-per-use" and q["energy_per_kwh"] == "2.59"
    assert session.query(DriverPlan).count() == 1 and session.query(Plan).count() == 1


def test_ocpi_export(client, world):
    w = world
    put_price(client, w, w["op"].public.id, {**HOTEL, "idle_grace_minutes": 10})
    r = client.get(f"/sites/{w['site'].id}/tariffs/ocpi")
    assert r.status_code == 200
    assert '"price": 1.9512' in r.get_data(as_text=True)  # exact number, not a string
    tariff = r.json["data"][0]
    assert tariff["currency"] == "PLN" and tariff["type"] == "REGULAR"
    parking, energy = tariff["elements"]
    assert parking["price_components"][0] == {
        "type": "PARKING_TIME",
        "price": 24.3902,
        "vat": 23.0,
        "step_size": 60,
    }
    assert parking["restrictions"] == {"start_time": "08:00", "end_time": "22:00"}
    assert energy["price_components"][0]["type"] == "ENERGY"


def test_ocpi_private_site_is_404(client, session):
    op = f.operator(session)
    site = f.site(session, op, visibility="private")
    session.commit()
    assert client.get(f"/sites/{site.id}/tariffs/ocpi").status_code == 404


def test_supply_cost_from_meter_readings(client, world):
    w = world
    base = f"/operators/{w['op'].operator.id}/sites/{w['site'].id}"
    r = client.put(
        f"{base}/supply",
        headers=w["staff"],
        json={
            "voltage_kv": "0.4",
            "contracted_kw": "22",
            "fuse_a": "40",
            "invoice_form": "einvoice",
        },
    )
    assert r.status_code == 200 and r.json["tariff_group"] == "C11em"
    assert (
        client.put(
            f"{base}/supply",
            headers=w["staff"],
            json={"voltage_kv": "110", "contracted_kw": "22", "invoice_form": "einvoice"},
        ).status_code
        == 422
    )
    for day, reg in (("2026-11-01", "10000"), ("2026-12-01", "11800")):
        assert (
            client.post(
                f"{base}/meter-readings",
                headers=w["staff"],
                json={"read_on": day, "register_kwh": reg},
            ).status_code
            == 201
        )
    backwards = client.post(
        f"{base}/meter-readings",
        headers=w["staff"],
        json={"read_on": "2026-11-15", "register_kwh": "9000"},
    )
    assert backwards.status_code == 422
    r = client.get(f"{base}/supply-cost?from=2026-11-01&to=2026-12-01", headers=w["staff"])
    assert r.status_code == 200, r.json
    assert (r.json["net"], r.json["cost_per_kwh_net"]) == ("866.62", "0.4815")
    missing = client.get(f"{base}/supply-cost?from=2026-10-01&to=2026-12-01", headers=w["staff"])
    assert missing.status_code == 422 and "2026-10-01" in missing.json["message"]
