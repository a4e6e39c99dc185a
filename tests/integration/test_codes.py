"""Company codes, operator side, through the API on the real PostgreSQL."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from backend.db.models import CompanyCode
from backend.db.models.enums import Role
from tests import factories as f

CODE_SHAPE = re.compile(r"^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$")
HOTEL_WINDOW = {"valid_from": "2026-11-20T14:00", "valid_to": "2026-11-22T12:00"}


@dataclass
class Hotel:
    setup: f.OperatorSetup
    sites: list
    user: f.User
    staff: dict[str, str]

    def relogin(self, client) -> None:
        """After the clock jumps, the access token has expired like any other."""
        self.staff = f.login(client, self.user)

    @property
    def id(self) -> int:
        return self.setup.operator.id

    def url(self, suffix: str = "") -> str:
        return f"/operators/{self.id}/codes{suffix}"


def make_operator(client, session, name: str) -> Hotel:
    setup = f.operator(session, name)
    sites = [f.site(session, setup, visibility="private") for _ in range(2)]
    staff = f.user(session, Role.OPERATOR_STAFF, operator_id=setup.operator.id)
    session.commit()
    return Hotel(setup, sites, staff, f.login(client, staff))


@pytest.fixture
def hotel(client, session) -> Hotel:
    return make_operator(client, session, "Hotel")


@pytest.fixture
def other(client, session) -> Hotel:
    return make_operator(client, session, "Other")


def guest_code(client, hotel: Hotel, **extra):
    body = {
        "kind": "temporary",
        "label": "Room 12",
        "site_ids": [hotel.sites[0].id],
        "price_group_id": hotel.setup.company.id,
        **HOTEL_WINDOW,
        "max_sessions": 3,
        **extra,
    }
    # A field given as None is left out of the request.
    body = {k: v for k, v in body.items() if v is not None}
    return client.post(hotel.url(), json=body, headers=hotel.staff)


def permanent_code(client, hotel: Hotel, **extra):
    body = {
        "kind": "permanent",
        "site_ids": [s.id for s in hotel.sites],
        "price_group_id": hotel.setup.company.id,
        **extra,
    }
    return client.post(hotel.url(), json=body, headers=hotel.staff)


def test_hotel_guest_code_window_is_local_time_stored_in_utc(client, session, hotel):
    r = guest_code(client, hotel)
    assert r.status_code == 201, r.json
    body = r.json
    assert CODE_SHAPE.match(body["code"])
    assert body["hint"] == body["code"][-4:]
    assert body["billing_mode"] == "operator_invoiced"  # the P2 default
    assert body["max_sessions"] == 3 and body["status"] == "active"
    assert body["timezone"] == "Europe/Warsaw"
    assert body["valid_from"] == "2026-11-20T13:00:00+00:00"
    assert body["valid_to"] == "2026-11-22T11:00:00+00:00"
    assert body["valid_from_local"] == "2026-11-20T14:00:00"
    assert body["valid_to_local"] == "2026-11-22T12:00:00"
    assert [s["id"] for s in body["sites"]] == [hotel.sites[0].id]
    assert body["price_group"]["name"] == "Company"

    stored = session.get(CompanyCode, body["id"])
    assert stored.valid_from == datetime(2026, 11, 20, 13, 0, tzinfo=UTC)
    assert stored.valid_until == datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
    plain = body["code"].replace("-", "")
    # Only a keyed hash is kept: neither form of the code is anywhere in the row.
    row = json.dumps({c.name: str(getattr(stored, c.key)) for c in CompanyCode.__table__.c})
    assert plain not in row and body["code"] not in row
    assert len(stored.code_hash) == 64


def test_code_is_shown_once_and_never_listed(client, hotel):
    created = guest_code(client, hotel).json
    listed = client.get(hotel.url(), headers=hotel.staff)
    one = client.get(hotel.url(f"/{created['id']}"), headers=hotel.staff)
    for r in (listed, one):
        assert r.status_code == 200
        text = r.get_data(as_text=True)
        assert created["code"] not in text and created["code"].replace("-", "") not in text
    assert "code" not in listed.json[0] and listed.json[0]["hint"] == created["hint"]


def test_permanent_code_defaults_to_per_session_and_has_no_end(client, hotel):
    r = permanent_code(client, hotel, label="Residents")
    assert r.status_code == 201, r.json
    assert r.json["billing_mode"] == "per_session"
    assert r.json["valid_from"] is None and r.json["valid_to_local"] is None
    assert {s["id"] for s in r.json["sites"]} == {s.id for s in hotel.sites}


def test_billing_mode_and_kwh_limit_can_be_chosen(client, session, hotel):
    r = guest_code(client, hotel, billing_mode="monthly", max_kwh="12.5")
    assert r.status_code == 201, r.json
    assert r.json["billing_mode"] == "monthly" and Decimal(r.json["max_kwh"]) == Decimal("12.5")
    assert session.get(CompanyCode, r.json["id"]).max_kwh == Decimal("12.5")


def test_two_codes_differ(client, hotel):
    a, b = permanent_code(client, hotel).json, permanent_code(client, hotel).json
    assert a["code"] != b["code"]


def test_time_in_the_spring_forward_gap_is_refused_with_a_clear_message(client, hotel):
    r = guest_code(client, hotel, valid_from="2026-03-29T02:30", valid_to="2027-03-29T12:00")
    assert r.status_code == 422
    assert "does not exist in Europe/Warsaw" in r.json["message"]
    assert "valid_from" in r.json["errors"]


def test_time_in_the_fall_back_hour_means_its_first_occurrence(client, hotel):
    # 2027-10-31 is the autumn change in Warsaw: 02:30 happens at 00:30 and 01:30 UTC.
    r = guest_code(client, hotel, valid_from="2027-10-30T12:00", valid_to="2027-10-31T02:30")
    assert r.status_code == 201, r.json
    assert r.json["valid_to"] == "2027-10-31T00:30:00+00:00"
    assert r.json["valid_to_local"] == "2027-10-31T02:30:00"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"valid_to": "2026-11-20T13:00"}, "valid_to"),  # before valid_from
        ({"valid_from": "2026-11-19T08:00", "valid_to": "2026-11-20T12:30"}, "valid_to"),  # over
        ({"valid_to": None}, "valid_to"),
        ({"valid_from": "2026-11-20T14:00+01:00"}, "valid_from"),  # an offset, not local time
        ({"valid_from": "tomorrow"}, "valid_from"),
        ({"max_kwh": "0"}, "max_kwh"),
        ({"max_kwh": "1.0001"}, "max_kwh"),
        ({"max_kwh": "NaN"}, "max_kwh"),
        ({"max_sessions": 0}, "max_sessions"),
        ({"billing_mode": "cash"}, "billing_mode"),
        ({"site_ids": []}, "site_ids"),
        ({"site_ids": [2**40]}, "site_ids"),
        ({"price_group_id": "1"}, "price_group_id"),
        ({"label": "a\x00b"}, "label"),
    ],
)
def test_invalid_guest_codes_are_422_with_the_field_named(client, hotel, extra, field):
    r = guest_code(client, hotel, **extra)
    assert r.status_code == 422, r.json
    assert field in r.json["errors"], r.json
    assert set(r.json) == {"code", "status", "message", "errors"}


def test_permanent_code_takes_no_window(client, hotel):
    r = permanent_code(client, hotel, valid_from="2026-11-20T14:00", max_sessions=3)
    assert r.status_code == 422
    assert {"valid_from", "max_sessions"} <= set(r.json["errors"])


def test_sites_and_price_group_must_be_the_operators_own(client, hotel, other):
    r = guest_code(client, hotel, site_ids=[hotel.sites[0].id, other.sites[0].id])
    assert r.status_code == 422 and "site_ids" in r.json["errors"]
    r = guest_code(client, hotel, price_group_id=other.setup.company.id)
    assert r.status_code == 422 and "price_group_id" in r.json["errors"]


def test_temporary_code_sites_must_share_a_time_zone(client, session, hotel):
    oslo = f.site(session, hotel.setup, visibility="private", country="NO", timezone="Europe/Oslo")
    london = f.site(session, hotel.setup, visibility="private", timezone="Europe/London")
    session.commit()
    r = guest_code(client, hotel, site_ids=[hotel.sites[0].id, london.id])
    assert r.status_code == 422 and "time zone" in r.json["message"]
    # Oslo and Warsaw are both on CET, yet two zone names would mean two rule sets.
    assert guest_code(client, hotel, site_ids=[hotel.sites[0].id, oslo.id]).status_code == 422
    assert permanent_code(client, hotel, site_ids=[hotel.sites[0].id, london.id]).status_code == 201


def test_list_filters_by_status_and_paginates(client, hotel, clock):
    guest = guest_code(client, hotel).json
    revoked = permanent_code(client, hotel).json
    active = permanent_code(client, hotel).json
    client.post(hotel.url(f"/{revoked['id']}/revoke"), headers=hotel.staff)
    clock.advance(days=2)  # 22 Nov 12:00 UTC: the guest window (until 11:00) is over
    hotel.relogin(client)

    def ids(query: str) -> list[int]:
        r = client.get(hotel.url(query), headers=hotel.staff)
        assert r.status_code == 200, r.json
        return [c["id"] for c in r.json]

    assert ids("") == [active["id"], revoked["id"], guest["id"]]  # newest first
    assert ids("?status=active") == [active["id"]]
    assert ids("?status=revoked") == [revoked["id"]]
    assert ids("?status=expired") == [guest["id"]]
    assert ids("?kind=temporary") == [guest["id"]]
    page = client.get(hotel.url("?page=2&page_size=2"), headers=hotel.staff)
    assert [c["id"] for c in page.json] == [guest["id"]]
    assert json.loads(page.headers["X-Pagination"])["total"] == 3
    assert client.get(hotel.url("?status=lost"), headers=hotel.staff).status_code == 422


def test_revoke_is_idempotent(client, hotel, clock):
    code = permanent_code(client, hotel).json
    first = client.post(hotel.url(f"/{code['id']}/revoke"), headers=hotel.staff)
    assert first.status_code == 200 and first.json["status"] == "revoked"
    clock.advance(minutes=5)
    again = client.post(hotel.url(f"/{code['id']}/revoke"), headers=hotel.staff)
    assert again.status_code == 200 and again.json["revoked_at"] == first.json["revoked_at"]


def test_operator_y_cannot_see_or_revoke_operator_x_codes(client, hotel, other):
    code = guest_code(client, hotel).json
    # Y naming X's operator id: X does not exist for Y.
    assert client.get(hotel.url(), headers=other.staff).status_code == 404
    assert client.post(hotel.url(), json={}, headers=other.staff).status_code == 404
    assert client.get(hotel.url(f"/{code['id']}"), headers=other.staff).status_code == 404
    assert client.post(hotel.url(f"/{code['id']}/revoke"), headers=other.staff).status_code == 404
    # Y naming its own operator with X's code id: no such code there either.
    assert client.get(other.url(f"/{code['id']}"), headers=other.staff).status_code == 404
    r = client.post(other.url(f"/{code['id']}/revoke"), headers=other.staff)
    assert r.status_code == 404
    assert client.get(other.url(), headers=other.staff).json == []
    # Untouched for X.
    assert client.get(hotel.url(f"/{code['id']}"), headers=hotel.staff).json["status"] == "active"


def test_drivers_and_anonymous_callers_cannot_use_operator_endpoints(client, session, hotel):
    code = guest_code(client, hotel).json
    driver = f.user(session, Role.DRIVER)
    session.commit()
    headers = f.login(client, driver)
    for method, url in (
        ("GET", hotel.url()),
        ("POST", hotel.url()),
        ("GET", hotel.url(f"/{code['id']}")),
        ("POST", hotel.url(f"/{code['id']}/revoke")),
    ):
        assert client.open(url, method=method, json={}, headers=headers).status_code == 403
        assert client.open(url, method=method, json={}).status_code == 401


def test_platform_admin_manages_any_operator(client, session, hotel):
    admin = f.login(client, _admin(session))
    r = client.post(
        hotel.url(),
        json={
            "kind": "permanent",
            "site_ids": [hotel.sites[0].id],
            "price_group_id": hotel.setup.public.id,
        },
        headers=admin,
    )
    assert r.status_code == 201, r.json
    assert client.get(hotel.url(), headers=admin).json[0]["id"] == r.json["id"]
    assert client.get("/operators/999999/codes", headers=admin).status_code == 404
    assert client.get(f"/operators/{2**40}/codes", headers=admin).status_code == 404
    assert client.get(hotel.url(f"/{2**40}"), headers=admin).status_code == 404


def _admin(session):
    u = f.user(session, Role.PLATFORM_ADMIN)
    session.commit()
    return u
