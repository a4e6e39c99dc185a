"""The demo data: the four business cases and the Norwegian co-op, loadable twice."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, table

import backend.demo
from backend.db.models import (
    ChargePoint,
    CompanyCode,
    Membership,
    Operator,
    OperatorContract,
    RfidToken,
    Site,
)
from backend.demo import load_demo
from backend.services import charge_points as cps


def _counts(session) -> dict[str, int]:
    """Rows per table the database has (not the ORM's list: models of work in progress
    may be imported without their tables existing yet)."""
    names = inspect(session.get_bind()).get_table_names()
    return {n: session.scalar(select(func.count()).select_from(table(n))) for n in names}


@pytest.fixture
def demo(container, clock):
    return load_demo(container.session_factory, clock(), container.settings.secret_key)


def _operator(summary, business_case, country="PL"):
    return next(
        o
        for o in summary["operators"]
        if o["business_case"] == business_case and o["site"]["country"] == country
    )


def _login(client, creds) -> dict[str, str]:
    r = client.post("/auth/login", json={"email": creds["email"], "password": creds["password"]})
    assert r.status_code == 200, r.json
    return {"Authorization": f"Bearer {r.json['access_token']}"}


def _driver(summary, who_starts):
    return next(d for d in summary["drivers"] if d["who"].startswith(who_starts))


def test_loading_twice_adds_nothing_and_refreshes_the_secrets(
    client, session, container, clock, demo
):
    first_login = client.post("/auth/login", json=demo["platform_admin"]).json
    before = _counts(session)
    assert before["operators"] == 5 and before["charge_points"] >= 10
    assert demo["already_loaded"] is False
    clock.advance(days=3)  # the guest code of the first load has expired by now
    again = load_demo(container.session_factory, clock(), container.settings.secret_key)
    session.expire_all()
    assert again["already_loaded"] is True
    assert _counts(session) == before
    # The first load's secrets stop working, the second's work.
    old_admin, new_admin = demo["platform_admin"], again["platform_admin"]
    assert old_admin["password"] != new_admin["password"]
    r = client.post("/auth/login", json=old_admin)
    assert r.status_code == 401
    assert client.post("/auth/login", json=new_admin).json["role"] == "platform_admin"
    refresh = {"refresh_token": first_login["refresh_token"]}
    assert client.post("/auth/refresh", json=refresh).status_code == 401
    old_cp = demo["operators"][0]["charge_points"][0]
    new_cp = again["operators"][0]["charge_points"][0]
    assert cps.authenticate(session, old_cp["ocpp_identity"], old_cp["ocpp_password"]) is None
    assert cps.authenticate(session, new_cp["ocpp_identity"], new_cp["ocpp_password"])
    # The hotel guest's code and stay start again from this load.
    guest_code = _operator(again, "P2")["codes"][0]
    assert guest_code["valid_from_local"] == "2026-11-23 13:00:00"
    guest = _login(client, _driver(again, "hotel guest"))
    stays = client.get("/me/memberships", headers=guest).json
    assert [m["status"] for m in stays] == ["active"]
    public = _login(client, _driver(again, "public driver"))
    old_code = _operator(demo, "P2")["codes"][0]["code"]
    assert (
        client.post("/me/memberships", json={"code": old_code}, headers=public).status_code == 404
    )
    r = client.post("/me/memberships", json={"code": guest_code["code"]}, headers=public)
    assert r.status_code == 201, r.json


def test_the_four_business_cases_with_their_contract_terms(session, demo):
    contracts = {
        c.business_case: c
        for c in session.scalars(
            select(OperatorContract)
            .join(Operator, Operator.id == OperatorContract.operator_id)
            .where(Operator.country == "PL")
        )
    }
    assert set(contracts) == {"P1", "P2", "PUB", "SEMI"}
    p1, p2, pub, semi = (contracts[k] for k in ("P1", "P2", "PUB", "SEMI"))
    assert (p1.fee_percent, p1.fee_fixed_per_cp_minor, p1.operator_invoices_users) == (
        Decimal("5"),
        0,
        False,
    )
    assert (p2.fee_fixed_per_cp_minor, p2.fee_per_kwh_net, p2.operator_invoices_users) == (
        3000,
        Decimal("0.10"),
        True,
    )
    assert pub.agreed_price_per_kwh_net == Decimal("0.90")
    assert (semi.fee_percent, semi.fee_fixed_per_cp_minor) == (Decimal("10"), 2000)
    assert all(c.currency == "PLN" for c in contracts.values())
    visibility = {o["business_case"]: o["site"]["visibility"] for o in demo["operators"][:4]}
    assert visibility == {"P1": "private", "P2": "private", "PUB": "public", "SEMI": "semi_public"}
    uni = _operator(demo, "SEMI")
    assert len(uni["charge_points"]) == 2
    plugs = " ".join(cp["connectors"] for o in demo["operators"] for cp in o["charge_points"])
    assert "type2 22 kW" in plugs and "ccs2 150 kW" in plugs and "ccs2 50 kW" in plugs


def test_sites_are_in_poland_and_one_co_op_in_norway(session, demo):
    by_country = {}
    for site in session.scalars(select(Site)):
        by_country.setdefault(site.country, []).append(site)
    assert len(by_country["PL"]) == 4 and len(by_country["NO"]) == 1
    assert {s.city for s in by_country["PL"]} == {"Warszawa", "Kraków", "Poznań", "Gdańsk"}
    assert all(
        (s.currency, s.vat_rate, s.timezone) == ("PLN", Decimal("0.23"), "Europe/Warsaw")
        for s in by_country["PL"]
    )
    oslo = by_country["NO"][0]
    assert (oslo.city, oslo.currency, oslo.vat_rate, oslo.timezone) == (
        "Oslo",
        "NOK",
        Decimal("0.25"),
        "Europe/Oslo",
    )
    assert 59 < oslo.latitude < 60.5 and 10 < oslo.longitude < 11.5
    coop = _operator(demo, "P1", "NO")
    assert coop["site"]["currency"] == "NOK"


def test_codes_are_stored_hashed_and_the_guest_code_is_temporary(session, demo):
    rows = {c.label: c for c in session.scalars(select(CompanyCode))}
    kinds = {c.kind for c in rows.values()}
    assert kinds == {"permanent", "temporary"}
    for entry in (o for op in demo["operators"] for o in op["codes"]):
        row = rows[entry["label"]]
        plain = entry["code"].replace("-", "")
        assert plain not in row.code_hash and row.hint == plain[-4:]
    guest = next(c for c in rows.values() if c.kind == "temporary")
    assert guest.max_sessions == 3 and guest.billing_mode == "operator_invoiced"
    assert guest.valid_from <= datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert (guest.valid_until - guest.valid_from).days == 2
    assert guest.timezone == "Europe/Warsaw"
    permanent = [c for c in rows.values() if c.kind == "permanent"]
    assert len(permanent) == 2 and all(c.valid_until is None for c in permanent)


def test_drivers_see_what_their_memberships_open(client, session, demo):
    resident = _login(client, _driver(demo, "resident"))
    public = _login(client, _driver(demo, "public driver"))
    block_cp = session.scalar(select(ChargePoint).where(ChargePoint.ocpp_identity == "WP-BLOCK-01"))
    mall_cp = session.scalar(select(ChargePoint).where(ChargePoint.ocpp_identity == "WP-MALL-01"))
    assert client.get(f"/charge-points/{block_cp.id}", headers=resident).status_code == 200
    assert client.get(f"/charge-points/{block_cp.id}", headers=public).status_code == 404
    assert client.get(f"/charge-points/{mall_cp.id}").status_code == 200
    # The public driver can join the block with its code, as a new resident would.
    block_code = _operator(demo, "P1")["codes"][0]["code"]
    r = client.post("/me/memberships", json={"code": block_code}, headers=public)
    assert r.status_code == 201, r.json
    assert client.get(f"/charge-points/{block_cp.id}", headers=public).status_code == 200

    members = {m.driver_id: m for m in session.scalars(select(Membership))}
    assert len(members) == 5  # four demo members plus the one who just joined
    coop = [m for m in members.values() if m.source == "manual"]
    assert len(coop) == 1 and coop[0].billing_mode == "monthly"
    employee = _driver(demo, "university employee")
    cards = _operator(demo, "SEMI")["rfid_cards"]
    assert [c["driver"] for c in cards] == ["piotr.wisniewski", None]
    tokens = session.scalars(select(RfidToken).where(RfidToken.driver_id.is_not(None))).all()
    assert len(tokens) == 1 and tokens[0].id_tag == cards[0]["id_tag"]
    assert employee["member_of"] == "uni"


def test_each_operator_has_a_staff_login_scoped_to_it(client, demo):
    for op in demo["operators"]:
        h = _login(client, op["staff_login"])
        listed = client.get("/operators", headers=h).json
        assert [o["name"] for o in listed] == [op["name"]]
        sites = client.get(f"/operators/{op['operator_id']}/sites", headers=h).json
        assert [s["name"] for s in sites] == [op["site"]["name"]]


def test_no_secret_of_the_summary_is_in_the_source(demo):
    here = Path(backend.demo.__file__).parent
    source = "".join((here / n).read_text(encoding="utf-8") for n in ("demo.py", "demo_data.py"))
    secrets = [demo["platform_admin"]["password"]]
    for op in demo["operators"]:
        secrets.append(op["staff_login"]["password"])
        secrets += [cp["ocpp_password"] for cp in op["charge_points"]]
        secrets += [c["code"] for c in op["codes"]]
    secrets += [d["password"] for d in demo["drivers"]]
    assert len(set(secrets)) == len(secrets) == 24
    assert not [s for s in secrets if s in source]
