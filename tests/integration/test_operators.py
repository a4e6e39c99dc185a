"""Operators, staff logins, contracts and price groups through the API (real PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from backend.db.models import OperatorContract, PriceGroup, User
from backend.db.models.enums import Role
from backend.security.passwords import verify_password
from tests import factories as f

ERROR_SHAPE = {"code", "status", "message", "errors"}


@pytest.fixture
def world(client, session):
    """Operators X and Y, a staff member of each, a platform admin and a driver."""
    x, y = f.operator(session, "X"), f.operator(session, "Y")
    users = {
        "admin": f.user(session, Role.PLATFORM_ADMIN),
        "staff_x": f.user(session, Role.OPERATOR_STAFF, operator_id=x.operator.id),
        "staff_y": f.user(session, Role.OPERATOR_STAFF, operator_id=y.operator.id),
        "driver": f.user(session, Role.DRIVER),
    }
    session.commit()
    headers = {name: f.login(client, u) for name, u in users.items()}
    return {"x": x, "y": y, "h": headers, "users": users}


def _error(r, status: int) -> dict:
    assert r.status_code == status, r.json
    assert set(r.json) == ERROR_SHAPE
    assert r.json["status"] == status and r.json["message"]
    return r.json["errors"]


# --- operators -------------------------------------------------------------------------


def test_admin_creates_reads_changes_and_lists_operators(client, world):
    admin = world["h"]["admin"]
    r = client.post(
        "/operators",
        json={"name": " Galeria Warta ", "country": "PL", "tax_id": "7781234567"},
        headers=admin,
    )
    assert r.status_code == 201, r.json
    created = r.json
    assert created["name"] == "Galeria Warta" and created["country"] == "PL"

    r = client.patch(
        f"/operators/{created['id']}", json={"email": "biuro@warta.example"}, headers=admin
    )
    assert r.status_code == 200 and r.json["email"] == "biuro@warta.example"
    got = client.get(f"/operators/{created['id']}", headers=admin).json
    assert got["email"] == "biuro@warta.example" and got["tax_id"] == "7781234567"

    r = client.get("/operators", headers=admin)
    assert r.status_code == 200
    assert {o["id"] for o in r.json} == {
        world["x"].operator.id,
        world["y"].operator.id,
        created["id"],
    }
    assert '"total": 3' in r.headers["X-Pagination"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "A", "country": "DE"}, "country"),
        ({"name": "A", "country": "pl"}, "country"),
        ({"country": "PL"}, "name"),
        ({"name": "", "country": "PL"}, "name"),
        ({"name": "A"}, "country"),
        ({"name": "A", "country": "PL", "email": "not-mail"}, "email"),
        ({"name": "A", "country": "PL", "currency": "PLN"}, "currency"),
    ],
)
def test_invalid_operators_are_422_with_the_field_named(client, world, body, field):
    errors = _error(client.post("/operators", json=body, headers=world["h"]["admin"]), 422)
    assert field in errors


def test_unsupported_country_says_which_are(client, world):
    r = client.post("/operators", json={"name": "A", "country": "DE"}, headers=world["h"]["admin"])
    assert "Poland (PL)" in r.json["errors"]["country"][0]


def test_staff_see_only_their_own_operator(client, world):
    h, x, y = world["h"], world["x"].operator, world["y"].operator
    r = client.get("/operators", headers=h["staff_x"])
    assert [o["id"] for o in r.json] == [x.id]
    assert client.get(f"/operators/{x.id}", headers=h["staff_x"]).status_code == 200
    _error(client.get(f"/operators/{y.id}", headers=h["staff_x"]), 404)
    # Another operator's id and a missing one look alike.
    _error(client.get("/operators/999999", headers=h["staff_x"]), 404)


def test_only_admins_create_or_change_operators(client, world):
    h, x = world["h"], world["x"].operator
    _error(
        client.post("/operators", json={"name": "A", "country": "PL"}, headers=h["staff_x"]), 403
    )
    _error(client.patch(f"/operators/{x.id}", json={"name": "Mine"}, headers=h["staff_x"]), 403)
    _error(client.get("/operators", headers=h["driver"]), 403)
    _error(client.get(f"/operators/{x.id}", headers=h["driver"]), 403)
    _error(client.get("/operators"), 401)
    _error(client.get(f"/operators/{x.id}"), 401)
    _error(client.patch("/operators/999999", json={"name": "A"}, headers=h["admin"]), 404)


# --- staff -----------------------------------------------------------------------------


def test_admin_creates_staff_who_can_log_in_and_see_their_operator(client, session, world):
    x = world["x"].operator
    r = client.post(
        f"/operators/{x.id}/staff",
        json={"email": "Ops@Block.example", "password": "long-enough-pass"},
        headers=world["h"]["admin"],
    )
    assert r.status_code == 201, r.json
    assert r.json["email"] == "ops@block.example" and r.json["operator_id"] == x.id
    assert r.json["password"] is None  # chosen by the caller: nothing to show
    user = session.scalar(select(User).where(User.email == "ops@block.example"))
    assert user.role == "operator_staff" and user.operator_id == x.id
    assert user.password_hash.startswith("$argon2id$")
    login = client.post(
        "/auth/login", json={"email": "ops@block.example", "password": "long-enough-pass"}
    )
    assert login.status_code == 200 and login.json["role"] == "operator_staff"
    mine = {"Authorization": f"Bearer {login.json['access_token']}"}
    assert client.get(f"/operators/{x.id}", headers=mine).status_code == 200
    assert client.get(f"/operators/{world['y'].operator.id}", headers=mine).status_code == 404


def test_staff_add_a_colleague_with_a_generated_password_shown_once(client, session, world):
    x = world["x"].operator
    r = client.post(
        f"/operators/{x.id}/staff", json={"email": "night@x.example"}, headers=world["h"]["staff_x"]
    )
    assert r.status_code == 201, r.json
    password = r.json["password"]
    assert len(password) >= 16
    user = session.scalar(select(User).where(User.email == "night@x.example"))
    assert password not in user.password_hash and verify_password(user.password_hash, password)
    assert (
        client.post(
            "/auth/login", json={"email": "night@x.example", "password": password}
        ).status_code
        == 200
    )
    listed = client.get(f"/operators/{x.id}/staff", headers=world["h"]["staff_x"]).json
    assert "night@x.example" in {s["email"] for s in listed}
    assert all("password" not in s and "password_hash" not in s for s in listed)
    assert world["users"]["staff_y"].email not in {s["email"] for s in listed}


def test_staff_rules(client, world):
    h, x, y = world["h"], world["x"].operator, world["y"].operator
    body = {"email": "a@x.example", "password": "long-enough-pass"}
    _error(client.post(f"/operators/{y.id}/staff", json=body, headers=h["staff_x"]), 404)
    _error(client.get(f"/operators/{y.id}/staff", headers=h["staff_x"]), 404)
    _error(client.post(f"/operators/{x.id}/staff", json=body, headers=h["driver"]), 403)
    _error(client.post(f"/operators/{x.id}/staff", json=body), 401)
    assert client.post(f"/operators/{x.id}/staff", json=body, headers=h["admin"]).status_code == 201
    assert "email" in _error(
        client.post(f"/operators/{y.id}/staff", json=body, headers=h["admin"]), 409
    )
    short = {"email": "b@x.example", "password": "short"}
    assert "password" in _error(
        client.post(f"/operators/{x.id}/staff", json=short, headers=h["admin"]), 422
    )
    bad = {"email": "not an e-mail"}
    assert "email" in _error(
        client.post(f"/operators/{x.id}/staff", json=bad, headers=h["admin"]), 422
    )
    _error(client.post("/operators/999999/staff", json=body, headers=h["admin"]), 404)


# --- contracts -------------------------------------------------------------------------


def _contract(client, world, operator_id=None, **body):
    operator_id = operator_id or world["x"].operator.id
    payload = {"business_case": "P1", "valid_from": "2026-01-01", **body}
    return client.post(
        f"/operators/{operator_id}/contracts", json=payload, headers=world["h"]["admin"]
    )


def test_contract_amounts_are_exact(client, session, world):
    r = _contract(
        client,
        world,
        business_case="SEMI",
        fee_percent="10",
        fee_fixed_per_cp="20.00",
        valid_to="2026-12-31",
    )
    assert r.status_code == 201, r.json
    c = r.json
    assert c["currency"] == "PLN"  # the operator's country's
    assert (c["fee_percent"], c["fee_fixed_per_cp"], c["fee_fixed_per_cp_minor"]) == (
        "10",
        "20.00",
        2000,
    )
    assert c["agreed_price_per_kwh_net"] is None and c["operator_invoices_users"] is False
    row = session.get(OperatorContract, c["id"])
    assert row.fee_fixed_per_cp_minor == 2000 and row.fee_percent == Decimal("10")


def test_hotel_contract_invoices_guests_by_default(client, world):
    r = _contract(client, world, business_case="P2", fee_fixed_per_cp="30", fee_per_kwh_net="0.10")
    assert r.status_code == 201, r.json
    assert r.json["operator_invoices_users"] is True
    assert (r.json["fee_fixed_per_cp"], r.json["fee_per_kwh_net"]) == ("30.00", "0.1")


def test_pub_contract_needs_an_agreed_price_and_others_may_not_have_one(client, world):
    errors = _error(_contract(client, world, business_case="PUB"), 422)
    assert "agreed_price_per_kwh_net" in errors
    errors = _error(_contract(client, world, agreed_price_per_kwh_net="0.90"), 422)
    assert "agreed_price_per_kwh_net" in errors
    errors = _error(
        _contract(
            client, world, business_case="PUB", agreed_price_per_kwh_net="0.90", fee_percent=5
        ),
        422,
    )
    assert "fee_percent" in errors
    r = _contract(client, world, business_case="PUB", agreed_price_per_kwh_net="0.90")
    assert r.status_code == 201 and r.json["agreed_price_per_kwh_net"] == "0.9"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"fee_fixed_per_cp": "30.005"}, "fee_fixed_per_cp"),
        ({"fee_fixed_per_cp": "30,00"}, "fee_fixed_per_cp"),
        ({"fee_fixed_per_cp": "-1"}, "fee_fixed_per_cp"),
        ({"fee_fixed_per_cp": "1e3"}, "fee_fixed_per_cp"),
        ({"fee_fixed_per_cp": 30}, "fee_fixed_per_cp"),
        ({"fee_fixed_per_cp": "99999999999"}, "fee_fixed_per_cp"),
        ({"fee_percent": "100.5"}, "fee_percent"),
        ({"fee_percent": "-1"}, "fee_percent"),
        ({"fee_percent": "5.0000001"}, "fee_percent"),
        ({"fee_per_kwh_net": "-0.01"}, "fee_per_kwh_net"),
        ({"fee_per_kwh_net": "NaN"}, "fee_per_kwh_net"),
        ({"business_case": "P3"}, "business_case"),
        ({"currency": "EUR"}, "currency"),
        ({"valid_from": "2026-02-30"}, "valid_from"),
        ({"valid_to": "2025-12-31"}, "valid_to"),
        ({"operator_invoices_users": True}, "operator_invoices_users"),
    ],
)
def test_invalid_contracts_are_422(client, world, body, field):
    assert field in _error(_contract(client, world, **body), 422)


def test_norwegian_operator_contracts_in_nok(client, session, world):
    no = f.operator(session, "Borettslag", country="NO")
    session.commit()
    r = _contract(client, world, operator_id=no.operator.id, fee_percent="5")
    assert r.status_code == 201 and r.json["currency"] == "NOK"


def test_contract_periods_of_one_operator_may_not_overlap(client, world):
    assert _contract(client, world, valid_to="2026-06-30").status_code == 201
    # The last day is inclusive: starting on it overlaps.
    r = _contract(client, world, valid_from="2026-06-30")
    assert "valid_from" in _error(r, 409)
    assert "2026-01-01" in r.json["message"]
    assert _contract(client, world, valid_from="2026-07-01").status_code == 201
    # The open-ended contract from July covers every later day.
    _error(_contract(client, world, valid_from="2030-01-01", valid_to="2030-12-31"), 409)
    _error(_contract(client, world, valid_from="2025-01-01"), 409)
    assert (
        _contract(client, world, valid_from="2025-01-01", valid_to="2025-12-31").status_code == 201
    )
    # Another operator's periods are its own business.
    assert _contract(client, world, operator_id=world["y"].operator.id).status_code == 201
    listed = client.get(
        f"/operators/{world['x'].operator.id}/contracts", headers=world["h"]["admin"]
    ).json
    assert [c["valid_from"] for c in listed] == ["2025-01-01", "2026-01-01", "2026-07-01"]


def test_staff_read_their_contracts_but_do_not_make_them(client, world):
    h, x = world["h"], world["x"].operator
    assert _contract(client, world).status_code == 201
    r = client.get(f"/operators/{x.id}/contracts", headers=h["staff_x"])
    assert r.status_code == 200 and len(r.json) == 1
    _error(client.get(f"/operators/{x.id}/contracts", headers=h["staff_y"]), 404)
    body = {"business_case": "P1", "valid_from": "2027-01-01"}
    _error(client.post(f"/operators/{x.id}/contracts", json=body, headers=h["staff_x"]), 403)
    _error(client.get(f"/operators/{x.id}/contracts", headers=h["driver"]), 403)
    _error(client.get(f"/operators/{x.id}/contracts"), 401)


def test_a_contract_is_ended_to_make_room_for_new_terms(client, session, world):
    h, x, y = world["h"], world["x"].operator, world["y"].operator
    first = _contract(client, world).json  # open-ended from 2026-01-01
    url = f"/operators/{x.id}/contracts/{first['id']}/end"
    _error(client.post(url, json={"last_day": "2026-06-30"}, headers=h["staff_x"]), 403)
    _error(client.post(url, json={"last_day": "2025-12-31"}, headers=h["admin"]), 422)
    r = client.post(url, json={"last_day": "2026-06-30"}, headers=h["admin"])
    assert r.status_code == 200 and r.json["valid_to"] == "2026-06-30"
    # Shortened only: lengthening could overlap what follows.
    assert "last_day" in _error(
        client.post(url, json={"last_day": "2026-07-31"}, headers=h["admin"]), 422
    )
    assert _contract(client, world, valid_from="2026-07-01").status_code == 201
    # Another operator's contract, or none: the same 404.
    other = f"/operators/{y.id}/contracts/{first['id']}/end"
    _error(client.post(other, json={"last_day": "2026-05-31"}, headers=h["admin"]), 404)
    huge = f"/operators/{x.id}/contracts/{2**40}/end"
    _error(client.post(huge, json={"last_day": "2026-05-31"}, headers=h["admin"]), 404)


def test_a_contract_cannot_be_ended_inside_a_settled_month(client, session, world):
    from backend.db.models import Settlement

    h, x = world["h"], world["x"].operator
    first = _contract(client, world).json
    session.add(  # as a settlement run leaves it: only its period matters here
        Settlement(number="ST/2026/000001", operator_id=x.id, period="2026-10",
                   contract_id=first["id"], business_case="P1", currency="PLN",
                   vat_rate=Decimal("0.23"), terms="{}", charge_points=0,
                   energy_kwh=Decimal(0), revenue_net_minor=0, fee_net_minor=0,
                   direction="none", net_minor=0, vat_minor=0, gross_minor=0, lines="[]")
    )  # fmt: skip
    session.commit()
    url = f"/operators/{x.id}/contracts/{first['id']}/end"
    r = client.post(url, json={"last_day": "2026-10-15"}, headers=h["admin"])
    assert "last_day" in _error(r, 409)
    assert client.post(url, json={"last_day": "2026-11-15"}, headers=h["admin"]).status_code == 200


# --- price groups ----------------------------------------------------------------------


def test_price_groups_are_unique_by_name_within_an_operator(client, session, world):
    h, x, y = world["h"], world["x"].operator, world["y"].operator
    r = client.post(
        f"/operators/{x.id}/price-groups",
        json={"name": "VIP", "kind": "company"},
        headers=h["staff_x"],
    )
    assert r.status_code == 201 and r.json["kind"] == "company"
    again = {"name": " vip ", "kind": "public"}
    assert "name" in _error(
        client.post(f"/operators/{x.id}/price-groups", json=again, headers=h["staff_x"]), 409
    )
    assert (
        client.post(
            f"/operators/{y.id}/price-groups",
            json={"name": "VIP", "kind": "company"},
            headers=h["admin"],
        ).status_code
        == 201
    )
    names = [
        g["name"] for g in client.get(f"/operators/{x.id}/price-groups", headers=h["staff_x"]).json
    ]
    assert names == ["Company", "Public", "VIP"]
    assert session.scalar(select(PriceGroup.kind).where(PriceGroup.id == r.json["id"])) == "company"


def test_price_group_rules(client, world):
    h, x, y = world["h"], world["x"].operator, world["y"].operator
    good = {"name": "Staff", "kind": "company"}
    assert "kind" in _error(
        client.post(
            f"/operators/{x.id}/price-groups", json={"name": "A", "kind": "vip"}, headers=h["admin"]
        ),
        422,
    )
    assert "name" in _error(
        client.post(
            f"/operators/{x.id}/price-groups",
            json={"name": "", "kind": "public"},
            headers=h["admin"],
        ),
        422,
    )
    _error(client.post(f"/operators/{y.id}/price-groups", json=good, headers=h["staff_x"]), 404)
    _error(client.get(f"/operators/{y.id}/price-groups", headers=h["staff_x"]), 404)
    _error(client.post(f"/operators/{x.id}/price-groups", json=good, headers=h["driver"]), 403)
    _error(client.post(f"/operators/{x.id}/price-groups", json=good), 401)
