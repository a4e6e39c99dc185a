"""RFID cards (OCPP idTag) through the API, and the bridge's authorization, on PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from backend.db.models import RfidToken
from backend.db.models.enums import Role
from backend.services.rfid import IdTagStatus, authorize_id_tag
from tests import factories as f


@dataclass
class Company:
    setup: f.OperatorSetup
    staff: dict[str, str]

    def url(self, suffix: str = "") -> str:
        return f"/operators/{self.setup.operator.id}/rfid-tokens{suffix}"


def company(client, session, name: str) -> Company:
    setup = f.operator(session, name)
    staff = f.user(session, Role.OPERATOR_STAFF, operator_id=setup.operator.id)
    session.commit()
    return Company(setup, f.login(client, staff))


@pytest.fixture
def uni(client, session) -> Company:
    return company(client, session, "University")


@pytest.fixture
def other(client, session) -> Company:
    return company(client, session, "Other")


def register(client, c: Company, id_tag="04a1b2c3d4", **extra):
    body = {"id_tag": id_tag, "price_group_id": c.setup.company.id, **extra}
    return client.post(c.url(), json=body, headers=c.staff)


def test_register_a_card_for_a_driver_named_by_email(client, session, uni):
    driver = f.user(session, Role.DRIVER, email="anna@uni.example")
    session.commit()
    r = register(client, uni, label="Anna's card", driver_email=" Anna@Uni.example ")
    assert r.status_code == 201, r.json
    assert r.json["id_tag"] == "04A1B2C3D4"  # OCPP compares idTags without case
    assert r.json["driver_id"] == driver.id and r.json["driver_email"] == "anna@uni.example"
    assert r.json["blocked"] is False and r.json["label"] == "Anna's card"
    stored = session.get(RfidToken, r.json["id"])
    assert (stored.operator_id, stored.price_group_id) == (
        uni.setup.operator.id,
        uni.setup.company.id,
    )


def test_card_without_driver_is_allowed(client, uni):
    r = register(client, uni, id_tag="FLEET-01")
    assert r.status_code == 201 and r.json["driver_id"] is None


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"driver_email": "ghost@example.com"}, "driver_email"),
        ({"driver_id": 999999}, "driver_id"),
        ({"id_tag": "X" * 21}, "id_tag"),
        ({"id_tag": "   "}, "id_tag"),
        ({"id_tag": "żółw"}, "id_tag"),
        ({"price_group_id": 2**40}, "price_group_id"),
    ],
)
def test_invalid_cards_are_422(client, uni, extra, field):
    r = register(client, uni, **extra)
    assert r.status_code == 422, r.json
    assert field in r.json["errors"]


def test_staff_cannot_be_the_driver_of_a_card(client, session, uni):
    staff = f.user(session, Role.OPERATOR_STAFF, operator_id=uni.setup.operator.id)
    session.commit()
    r = register(client, uni, driver_email=staff.email)
    assert r.status_code == 422 and "driver_email" in r.json["errors"]


def test_price_group_must_be_the_operators_own(client, uni, other):
    r = register(client, uni, price_group_id=other.setup.company.id)
    assert r.status_code == 422 and "price_group_id" in r.json["errors"]


def test_id_tag_is_unique_across_the_platform_whatever_the_case(client, uni, other):
    assert register(client, uni, id_tag="04A1B2").status_code == 201
    again = register(client, uni, id_tag="04a1b2")
    elsewhere = register(client, other, id_tag="04A1B2")
    assert again.status_code == elsewhere.status_code == 409
    assert "id_tag" in elsewhere.json["errors"]


def test_block_and_unblock_are_idempotent(client, uni, clock):
    token = register(client, uni).json
    blocked = client.post(uni.url(f"/{token['id']}/block"), headers=uni.staff)
    assert blocked.status_code == 200 and blocked.json["blocked"] is True
    clock.advance(minutes=3)
    again = client.post(uni.url(f"/{token['id']}/block"), headers=uni.staff)
    assert again.json["blocked_at"] == blocked.json["blocked_at"]  # the first block is kept
    for _ in range(2):
        r = client.post(uni.url(f"/{token['id']}/unblock"), headers=uni.staff)
        assert r.status_code == 200 and r.json["blocked"] is False and r.json["blocked_at"] is None


def test_list_filters_blocked_and_paginates(client, uni, other):
    ids = [register(client, uni, id_tag=f"TAG{n}").json["id"] for n in range(3)]
    register(client, other, id_tag="NOT-MINE")
    client.post(uni.url(f"/{ids[0]}/block"), headers=uni.staff)

    def listed(query: str) -> list[int]:
        r = client.get(uni.url(query), headers=uni.staff)
        assert r.status_code == 200, r.json
        return [t["id"] for t in r.json]

    assert listed("") == ids[::-1]
    assert listed("?blocked=true") == [ids[0]]
    assert listed("?blocked=false") == [ids[2], ids[1]]
    page = client.get(uni.url("?page_size=2&page=2"), headers=uni.staff)
    assert [t["id"] for t in page.json] == [ids[0]]
    assert json.loads(page.headers["X-Pagination"])["total"] == 3


def test_operator_y_cannot_touch_operator_x_cards(client, uni, other):
    token = register(client, uni).json
    for method, url in (
        ("GET", uni.url()),
        ("POST", uni.url()),
        ("GET", uni.url(f"/{token['id']}")),
        ("POST", uni.url(f"/{token['id']}/block")),
        ("GET", other.url(f"/{token['id']}")),
        ("POST", other.url(f"/{token['id']}/block")),
        ("POST", other.url(f"/{token['id']}/unblock")),
    ):
        r = client.open(url, method=method, json={}, headers=other.staff)
        assert r.status_code == 404, (method, url, r.status_code)
    assert client.get(uni.url(f"/{token['id']}"), headers=uni.staff).json["blocked"] is False


def test_drivers_get_403_and_anonymous_401(client, session, uni):
    token = register(client, uni).json
    driver = f.user(session, Role.DRIVER)
    session.commit()
    headers = f.login(client, driver)
    for method, url in (
        ("GET", uni.url()),
        ("POST", uni.url()),
        ("POST", uni.url(f"/{token['id']}/block")),
        ("POST", uni.url(f"/{token['id']}/unblock")),
    ):
        assert client.open(url, method=method, json={}, headers=headers).status_code == 403
        assert client.open(url, method=method, json={}).status_code == 401


def test_platform_admin_registers_for_any_operator(client, session, uni):
    admin = f.user(session, Role.PLATFORM_ADMIN)
    session.commit()
    headers = f.login(client, admin)
    body = {"id_tag": "ADMIN-1", "price_group_id": uni.setup.public.id}
    assert client.post(uni.url(), json=body, headers=headers).status_code == 201
    assert client.get("/operators/999999/rfid-tokens", headers=headers).status_code == 404


# --- the OCPP bridge's question -------------------------------------------------------


def test_authorize_id_tag_against_the_database(client, session, uni, other, clock):
    own_private = f.site(session, uni.setup, visibility="private")
    foreign_private = f.site(session, other.setup, visibility="private")
    foreign_semi = f.site(session, other.setup, visibility="semi_public")
    session.commit()
    token = register(client, uni, id_tag="04A1B2").json
    now = clock()

    at_home = authorize_id_tag(session, "04a1b2", own_private.id, now)  # any case
    assert at_home.status == IdTagStatus.ACCEPTED and at_home.ocpp_status == "Accepted"
    assert at_home.price_group_id == uni.setup.company.id and at_home.token_id == token["id"]

    abroad = authorize_id_tag(session, "04A1B2", foreign_semi.id, now)
    assert abroad.status == IdTagStatus.ACCEPTED
    assert abroad.price_group_id == other.setup.public.id  # that site's public price

    closed = authorize_id_tag(session, "04A1B2", foreign_private.id, now)
    assert closed.status == IdTagStatus.NOT_VALID_HERE and closed.ocpp_status == "Invalid"

    assert authorize_id_tag(session, "FFFFFF", own_private.id, now).status == IdTagStatus.UNKNOWN
    assert authorize_id_tag(session, "x" * 40, own_private.id, now).status == IdTagStatus.UNKNOWN

    client.post(uni.url(f"/{token['id']}/block"), headers=uni.staff)
    session.expire_all()
    blocked = authorize_id_tag(session, "04A1B2", own_private.id, clock())
    assert blocked.status == IdTagStatus.BLOCKED and blocked.ocpp_status == "Blocked"
