"""Devices for push notifications, through the API on PostgreSQL."""

from __future__ import annotations

import pytest

from backend.db.models.enums import Role
from backend.services.devices import MAX_DEVICES_PER_USER
from tests import factories as f


class People(dict):  # type: ignore[type-arg]
    """Authorization headers by name; log in again after the clock jumps past 15 minutes."""

    def relogin(self, client) -> None:  # type: ignore[no-untyped-def]
        for name, u in self.users.items():
            self[name] = f.login(client, u)


@pytest.fixture
def people(client, session) -> People:  # type: ignore[no-untyped-def]
    op = f.operator(session)
    people = People()
    people.users = {
        "anna": f.user(session, Role.DRIVER),
        "bartek": f.user(session, Role.DRIVER),
        "staff": f.user(session, Role.OPERATOR_STAFF, operator_id=op.operator.id),
    }
    session.commit()
    people.relogin(client)
    return people


def register(client, headers, token="fcm-token-1", platform="android", **extra):  # type: ignore[no-untyped-def]
    return client.post(
        "/me/devices", json={"token": token, "platform": platform, **extra}, headers=headers
    )


def tokens(client, headers) -> list[str]:  # type: ignore[no-untyped-def]
    r = client.get("/me/devices", headers=headers)
    assert r.status_code == 200, r.json
    return [d["token"] for d in r.json]


def test_register_list_and_remove(client, people, clock):
    r = register(client, people["anna"], language="nb")
    assert r.status_code == 201, r.json
    device = r.json
    assert device["token"] == "fcm-token-1"
    assert (device["platform"], device["language"]) == ("android", "nb")
    assert device["created_at"] == device["last_seen_at"] == clock().isoformat()

    clock.advance(days=1)
    people.relogin(client)
    again = register(client, people["anna"], platform="android")
    assert again.status_code == 200  # the same install, refreshed
    assert again.json["id"] == device["id"]
    assert again.json["language"] is None  # follow the account's language again
    assert again.json["last_seen_at"] == clock().isoformat()

    register(client, people["anna"], token="browser-token", platform="web")
    assert tokens(client, people["anna"]) == ["fcm-token-1", "browser-token"]

    assert client.delete(f"/me/devices/{device['id']}", headers=people["anna"]).status_code == 204
    assert tokens(client, people["anna"]) == ["browser-token"]
    assert client.delete(f"/me/devices/{device['id']}", headers=people["anna"]).status_code == 404


def test_operator_staff_register_devices_too(client, people):
    assert register(client, people["staff"], platform="ios").status_code == 201
    assert tokens(client, people["staff"]) == ["fcm-token-1"]


def test_another_users_device_is_not_found(client, people):
    device = register(client, people["anna"]).json
    r = client.delete(f"/me/devices/{device['id']}", headers=people["bartek"])
    assert r.status_code == 404
    assert r.json["code"] == "not_found"
    assert tokens(client, people["bartek"]) == []
    assert tokens(client, people["anna"]) == ["fcm-token-1"]


def test_a_phone_that_changes_hands_moves_to_its_new_owner(client, people):
    anna_device = register(client, people["anna"]).json
    r = register(client, people["bartek"], platform="android")
    assert r.status_code == 201
    assert r.json["id"] != anna_device["id"]
    assert tokens(client, people["anna"]) == []
    assert tokens(client, people["bartek"]) == ["fcm-token-1"]
    # Anna's old id names nothing any more, for her or for Bartek.
    assert (
        client.delete(f"/me/devices/{anna_device['id']}", headers=people["anna"]).status_code == 404
    )


def test_stale_installs_make_room_for_new_ones(client, people, clock):
    for n in range(MAX_DEVICES_PER_USER):
        register(client, people["anna"], token=f"install-{n}")
        clock.advance(minutes=1)
    register(client, people["anna"], token="install-0")  # seen again: now the freshest
    clock.advance(minutes=1)
    register(client, people["anna"], token="new-phone")
    held = tokens(client, people["anna"])
    assert len(held) == MAX_DEVICES_PER_USER
    assert "install-1" not in held and {"install-0", "new-phone"} <= set(held)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"token": "", "platform": "android"}, "token"),
        ({"token": "has space", "platform": "android"}, "token"),
        ({"token": "x" * 513, "platform": "android"}, "token"),
        ({"token": "ok", "platform": "windows-phone"}, "platform"),
        ({"token": "ok", "platform": "ios", "language": "de"}, "language"),
        ({"platform": "ios"}, "token"),
    ],
)
def test_invalid_registrations_are_refused_field_by_field(client, people, body, field):
    r = client.post("/me/devices", json=body, headers=people["anna"])
    assert r.status_code == 422
    assert set(r.json) == {"code", "status", "message", "errors"}
    assert field in r.json["errors"]


def test_platform_admins_have_no_devices(client, session):
    admin = f.user(session, Role.PLATFORM_ADMIN)
    session.commit()
    r = register(client, f.login(client, admin))
    assert r.status_code == 403
