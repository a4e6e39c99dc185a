"""Redeeming company codes and the driver's memberships, through the API on PostgreSQL.

The throttle here is the SQL one (the test settings have no Redis); the Redis one runs
the same scenario in test_throttle_redis.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from backend.db.models import Membership
from backend.db.models.enums import Role
from tests import factories as f

NOT_VALID = "This code is not valid. Check it with whoever gave it to you."
# Well formed, but no operator ever issued it (the alphabet has no 0/1, so no clash).
WRONG = "ABCD-EFGH-JKMN"


@dataclass
class World:
    setup: f.OperatorSetup
    sites: list
    staff_user: f.User
    driver: f.User
    staff: dict[str, str]
    headers: dict[str, str]

    def relogin(self, client) -> None:
        """Access tokens last 15 minutes of the (fake) clock: log in again after a jump."""
        self.staff = f.login(client, self.staff_user)
        self.headers = f.login(client, self.driver)

    def code(self, client, **body) -> dict:
        payload = {
            "kind": "permanent",
            "site_ids": [s.id for s in self.sites],
            "price_group_id": self.setup.company.id,
            **body,
        }
        r = client.post(
            f"/operators/{self.setup.operator.id}/codes", json=payload, headers=self.staff
        )
        assert r.status_code == 201, r.json
        return r.json


@pytest.fixture
def world(client, session) -> World:
    setup = f.operator(session, "Hotel Bristol")
    sites = [f.site(session, setup, visibility="private") for _ in range(2)]
    staff = f.user(session, Role.OPERATOR_STAFF, operator_id=setup.operator.id)
    driver = f.user(session, Role.DRIVER)
    session.commit()
    return World(setup, sites, staff, driver, f.login(client, staff), f.login(client, driver))


def redeem(client, headers, code, address="192.0.2.10"):
    return client.post(
        "/me/memberships",
        json={"code": code},
        headers=headers,
        environ_base={"REMOTE_ADDR": address},
    )


def another_driver(client, session) -> dict[str, str]:
    u = f.user(session, Role.DRIVER)
    session.commit()
    return f.login(client, u)


# --- domain.md §6, P2: the hotel guest code ----------------------------------------------


@pytest.fixture
def guest(client, world):
    # Valid 2026-11-20 14:00 to 2026-11-22 12:00 Warsaw, i.e. 13:00Z to 11:00Z; one site.
    return world.code(
        client,
        kind="temporary",
        site_ids=[world.sites[0].id],
        valid_from="2026-11-20T14:00",
        valid_to="2026-11-22T12:00",
        max_sessions=3,
    )


def test_guest_code_before_its_window_says_from_when(client, world, guest):
    # The clock says 12:00Z = 13:00 in Warsaw: an hour early.
    r = redeem(client, world.headers, guest["code"])
    assert r.status_code == 422
    assert r.json["code"] == "code_not_yet_valid"
    assert r.json["message"] == "This code can be used from 20 Nov 2026, 14:00 (Europe/Warsaw)."
    assert client.get("/me/memberships", headers=world.headers).json == []


def test_guest_code_inside_its_window_makes_a_membership_until_checkout(
    client, world, guest, clock
):
    clock.advance(hours=1, minutes=5)  # 14:05 in Warsaw
    world.relogin(client)
    r = redeem(client, world.headers, guest["code"])
    assert r.status_code == 201, r.json
    m = r.json
    assert m["operator"]["name"] == world.setup.operator.name
    assert [s["id"] for s in m["sites"]] == [world.sites[0].id]  # only the code's site
    assert m["price_group"]["name"] == "Company"
    assert m["billing_mode"] == "operator_invoiced"
    assert m["source"] == "code" and m["code_kind"] == "temporary"
    assert m["starts_at"] == "2026-11-20T13:05:00+00:00"
    assert m["valid_until"] == "2026-11-22T11:00:00+00:00"
    assert m["status"] == "active"
    # The operator sees one driver holding the code.
    detail = client.get(
        f"/operators/{world.setup.operator.id}/codes/{guest['id']}", headers=world.staff
    )
    assert detail.json["active_members"] == 1


def test_membership_ends_when_the_guest_code_expires(client, session, world, guest, clock):
    clock.advance(hours=2)
    headers = f.login(client, world.driver)
    mid = redeem(client, headers, guest["code"]).json["id"]
    clock.advance(hours=44, minutes=59)  # 22 Nov 10:59Z: the last minute of the stay
    headers = f.login(client, world.driver)
    assert [m["id"] for m in client.get("/me/memberships", headers=headers).json] == [mid]
    clock.advance(minutes=1)  # 11:00Z = 12:00 in Warsaw: checkout
    headers = f.login(client, world.driver)
    assert client.get("/me/memberships", headers=headers).json == []
    ended = client.get("/me/memberships?include_ended=true", headers=headers).json
    assert [(m["id"], m["status"]) for m in ended] == [(mid, "expired")]
    # Too late for anyone else as well.
    late = redeem(client, another_driver(client, session), guest["code"])
    assert late.status_code == 422 and late.json["code"] == "code_expired"
    assert "22 Nov 2026, 12:00 (Europe/Warsaw)" in late.json["message"]


def test_redeeming_again_returns_the_same_membership(client, session, world):
    code = world.code(client)
    first = redeem(client, world.headers, code["code"])
    again = redeem(client, world.headers, code["code"].lower().replace("-", " "))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json["id"] == again.json["id"]
    assert session.query(Membership).count() == 1


def test_permanent_code_has_no_end_and_opens_all_its_sites(client, world, clock):
    code = world.code(client, billing_mode="monthly")
    m = redeem(client, world.headers, code["code"]).json
    assert m["valid_until"] is None and m["billing_mode"] == "monthly"
    assert {s["id"] for s in m["sites"]} == {s.id for s in world.sites}
    assert m["code_kind"] == "permanent"


def test_unknown_and_revoked_codes_get_one_and_the_same_answer(client, session, world):
    code = world.code(client)
    client.post(
        f"/operators/{world.setup.operator.id}/codes/{code['id']}/revoke", headers=world.staff
    )
    revoked = redeem(client, world.headers, code["code"])
    unknown = redeem(client, world.headers, WRONG)
    assert revoked.status_code == unknown.status_code == 404
    assert revoked.json == unknown.json
    assert revoked.json["message"] == NOT_VALID


def test_malformed_code_is_explained_and_not_counted(client, world):
    for _ in range(8):
        r = redeem(client, world.headers, "ABCD-EFGH-JKM0")
        assert r.status_code == 422 and "never contains '0'" in r.json["message"]
    code = world.code(client)
    assert redeem(client, world.headers, code["code"]).status_code == 201


def test_revoking_a_code_ends_the_memberships_made_from_it(client, session, world):
    code = world.code(client)
    other = another_driver(client, session)
    mine = redeem(client, world.headers, code["code"]).json
    redeem(client, other, code["code"])
    r = client.post(
        f"/operators/{world.setup.operator.id}/codes/{code['id']}/revoke", headers=world.staff
    )
    assert r.status_code == 200 and r.json["active_members"] == 0
    for headers in (world.headers, other):
        assert client.get("/me/memberships", headers=headers).json == []
    ended = client.get("/me/memberships?include_ended=1", headers=world.headers).json
    assert [(m["id"], m["status"]) for m in ended] == [(mine["id"], "ended")]
    assert ended[0]["ended_at"] == r.json["revoked_at"]


def test_leaving_a_membership(client, session, world):
    code = world.code(client)
    mid = redeem(client, world.headers, code["code"]).json["id"]
    other = another_driver(client, session)
    # Another driver cannot see or end it: for them it does not exist.
    assert client.get(f"/me/memberships/{mid}", headers=other).status_code == 404
    assert client.delete(f"/me/memberships/{mid}", headers=other).status_code == 404
    assert client.get(f"/me/memberships/{mid}", headers=world.headers).status_code == 200

    assert client.delete(f"/me/memberships/{mid}", headers=world.headers).status_code == 204
    assert client.delete(f"/me/memberships/{mid}", headers=world.headers).status_code == 204
    assert client.get("/me/memberships", headers=world.headers).json == []
    # Redeeming after leaving makes a fresh membership.
    again = redeem(client, world.headers, code["code"])
    assert again.status_code == 201 and again.json["id"] != mid
    assert client.delete(f"/me/memberships/{2**40}", headers=world.headers).status_code == 404


def test_only_drivers_hold_memberships(client, world):
    code = world.code(client)
    assert redeem(client, world.staff, code["code"]).status_code == 403
    assert client.get("/me/memberships", headers=world.staff).status_code == 403
    assert client.get("/me/memberships").status_code == 401
    assert client.post("/me/memberships", json={"code": code["code"]}).status_code == 401


def test_code_field_is_required(client, world):
    r = client.post("/me/memberships", json={}, headers=world.headers)
    assert r.status_code == 422 and "code" in r.json["errors"]


# --- guessing is throttled (domain.md §5) -------------------------------------------------


def test_sixth_wrong_code_is_refused_and_so_is_a_right_one_until_the_window_passes(
    client, world, clock
):
    code = world.code(client)
    for n in range(5):
        r = redeem(client, world.headers, WRONG)
        assert r.status_code == 404, n
        clock.advance(minutes=1)
    # 12:05: the first failure (12:00) leaves the 15-minute window at 12:15.
    locked = redeem(client, world.headers, WRONG)
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "600"
    assert locked.json["message"] == "Too many wrong codes. Please try again in 10 minutes."
    assert locked.json["errors"]["retry_after_seconds"] == 600
    # A right code is refused as well: otherwise the lock would not stop guessing.
    right = redeem(client, world.headers, code["code"])
    assert right.status_code == 429
    clock.advance(minutes=9, seconds=59)
    headers = f.login(client, world.driver)
    assert redeem(client, headers, code["code"]).headers["Retry-After"] == "1"
    clock.advance(seconds=1)
    assert redeem(client, headers, code["code"]).status_code == 201


def test_one_address_is_throttled_across_accounts(client, session, world):
    code = world.code(client)
    second = another_driver(client, session)
    for _ in range(3):
        assert redeem(client, world.headers, WRONG, address="203.0.113.7").status_code == 404
    for _ in range(2):
        assert redeem(client, second, WRONG, address="203.0.113.7").status_code == 404
    third = another_driver(client, session)
    assert redeem(client, third, code["code"], address="203.0.113.7").status_code == 429
    # The same driver from another network is not locked out (2 failures on the account).
    assert redeem(client, second, code["code"], address="198.51.100.4").status_code == 201


def test_one_account_is_throttled_across_addresses(client, world):
    code = world.code(client)
    for n in range(5):
        assert redeem(client, world.headers, WRONG, address=f"192.0.2.{n}").status_code == 404
    r = redeem(client, world.headers, code["code"], address="198.51.100.99")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


def test_successful_redemptions_do_not_count(client, world):
    code = world.code(client)
    for _ in range(10):
        assert redeem(client, world.headers, code["code"]).status_code in (200, 201)
    for _ in range(5):
        assert redeem(client, world.headers, WRONG).status_code == 404
    assert redeem(client, world.headers, WRONG).status_code == 429
