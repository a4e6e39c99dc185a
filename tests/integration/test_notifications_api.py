"""The inbox and the outbox of the embedded default, through the API on PostgreSQL; the
temporary-code reminder end to end; and the embedded default on a SQLite file.

The conftest's app has no Firebase credentials, so pushes go to the outbox the app
polls — what `wattpass run` does on a laptop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from backend.bootstrap import bootstrap
from backend.config import Settings
from backend.db.migrate import upgrade
from backend.db.models.enums import Role
from backend.services import devices
from backend.services import notification_events as ev
from backend.services.notification_outbox import OutboxNotifier, read_outbox
from backend.services.notifications import inbox
from shared.money import Money
from tests import factories as f


@dataclass
class World:
    anna: f.User  # a Polish-speaking driver
    bartek: f.User
    staff: f.User
    setup: f.OperatorSetup
    headers: dict[str, dict[str, str]]

    def relogin(self, client) -> None:  # type: ignore[no-untyped-def]
        self.headers = {
            name: f.login(client, getattr(self, name)) for name in ("anna", "bartek", "staff")
        }


@pytest.fixture
def world(client, session) -> World:  # type: ignore[no-untyped-def]
    op = f.operator(session)
    w = World(
        f.user(session, Role.DRIVER),
        f.user(session, Role.DRIVER),
        f.user(session, Role.OPERATOR_STAFF, operator_id=op.operator.id),
        op,
        {},
    )
    session.commit()
    w.relogin(client)
    return w


def ended(n: int) -> ev.SessionEnded:
    return ev.SessionEnded(n, "Galeria", Decimal("12.345"), Money.of("45.10", "PLN"))


def notify(container, user, event):  # type: ignore[no-untyped-def]
    with container.session_factory() as s:
        return container.notifications.notify(s, user.id, event)


def register(client, headers, token):  # type: ignore[no-untyped-def]
    r = client.post("/me/devices", json={"token": token, "platform": "android"}, headers=headers)
    assert r.status_code == 201, r.json
    return r.json["id"]


# --- the inbox --------------------------------------------------------------------------


def test_the_inbox_lists_newest_first_page_by_page(client, container, world):
    for n in range(1, 26):
        notify(container, world.anna, ended(n))

    r = client.get("/me/notifications?page_size=10", headers=world.headers["anna"])
    assert r.status_code == 200
    assert [n["data"]["session_id"] for n in r.json] == [str(n) for n in range(25, 15, -1)]
    page = json.loads(r.headers["X-Pagination"])
    assert (page["total"], page["total_pages"], page["next_page"]) == (25, 3, 2)
    last = client.get("/me/notifications?page=3&page_size=10", headers=world.headers["anna"])
    assert [n["data"]["session_id"] for n in last.json] == ["5", "4", "3", "2", "1"]

    first = r.json[0]
    assert first["kind"] == "session_ended" and first["language"] == "pl"
    assert first["title"] == "Sesja ładowania zakończona"
    assert first["body"] == "Naładowano 12,35 kWh na stacji Galeria. Koszt: 45,10 PLN."
    assert (first["read"], first["read_at"]) == (False, None)


def test_reading_notifications_and_the_unread_badge(client, container, world, clock):
    ids = [notify(container, world.anna, ended(n)).id for n in (1, 2, 3)]
    h = world.headers["anna"]
    assert client.get("/me/notifications/unread-count", headers=h).json == {"unread": 3}

    r = client.post(f"/me/notifications/{ids[0]}/read", headers=h)
    assert r.status_code == 200
    assert (r.json["read"], r.json["read_at"]) == (True, clock().isoformat())
    assert client.post(f"/me/notifications/{ids[0]}/read", headers=h).status_code == 200
    assert client.get("/me/notifications/unread-count", headers=h).json == {"unread": 2}
    unread = client.get("/me/notifications?unread_only=true", headers=h).json
    assert [n["id"] for n in unread] == [ids[2], ids[1]]

    assert client.post("/me/notifications/read-all", headers=h).json == {"marked": 2}
    assert client.get("/me/notifications/unread-count", headers=h).json == {"unread": 0}


def test_another_users_notification_does_not_exist_for_the_caller(client, container, world):
    note = notify(container, world.anna, ended(1))
    r = client.post(f"/me/notifications/{note.id}/read", headers=world.headers["bartek"])
    assert r.status_code == 404 and r.json["code"] == "not_found"
    assert client.get("/me/notifications", headers=world.headers["bartek"]).json == []
    assert (
        client.post("/me/notifications/99999999999/read", headers=world.headers["anna"]).status_code
        == 404
    )
    anna = client.get("/me/notifications/unread-count", headers=world.headers["anna"]).json
    assert anna == {"unread": 1}  # Bartek's attempt marked nothing


def test_operator_staff_get_charger_news_in_english(client, container, world):
    with container.session_factory() as s:
        container.notifications.notify_operator_staff(
            s, world.setup.operator.id, ev.ChargerRestarted(5, "CP-5", "Garage A")
        )
    [note] = client.get("/me/notifications", headers=world.headers["staff"]).json
    assert note["title"] == "Charger restarted"
    assert note["data"] == {"charge_point_id": "5"}
    assert client.get("/me/notifications", headers=world.headers["anna"]).json == []


# --- the outbox (no Firebase configured) ------------------------------------------------


def test_the_app_polls_its_pushes_from_the_outbox(client, container, world):
    h = world.headers["anna"]
    phone = register(client, h, "anna-phone")
    note1 = notify(container, world.anna, ended(1))
    note2 = notify(container, world.anna, ended(2))

    r = client.get("/me/outbox", headers=h)
    assert r.status_code == 200
    assert [m["data"]["notification_id"] for m in r.json] == [str(note1.id), str(note2.id)]
    first = r.json[0]
    assert first["device_id"] == phone
    assert first["title"] == "Sesja ładowania zakończona"
    assert first["data"] == {
        "kind": "session_ended",
        "notification_id": str(note1.id),
        "session_id": "1",
    }
    last_seen = r.json[-1]["id"]
    assert client.get(f"/me/outbox?after={last_seen}", headers=h).json == []
    note3 = notify(container, world.anna, ended(3))
    newer = client.get(f"/me/outbox?after={last_seen}", headers=h).json
    assert [m["data"]["notification_id"] for m in newer] == [str(note3.id)]


def test_each_device_polls_its_own_messages_and_nobody_else_sees_them(client, container, world):
    h = world.headers["anna"]
    phone = register(client, h, "anna-phone")
    tablet = register(client, h, "anna-tablet")
    notify(container, world.anna, ended(1))

    assert len(client.get("/me/outbox", headers=h).json) == 2
    mine = client.get(f"/me/outbox?device_id={tablet}", headers=h).json
    assert [m["device_id"] for m in mine] == [tablet]
    assert client.get(f"/me/outbox?device_id={phone}", headers=h).json[0]["device_id"] == phone
    assert client.get("/me/outbox", headers=world.headers["bartek"]).json == []
    other = client.get(f"/me/outbox?device_id={phone}", headers=world.headers["bartek"])
    assert other.json == []


def test_outbox_arguments_are_checked(client, world):
    h = world.headers["anna"]
    assert client.get("/me/outbox?after=-1", headers=h).status_code == 422
    assert client.get("/me/outbox?limit=1000", headers=h).status_code == 422


def test_a_removed_device_gets_nothing_more(client, container, world):
    h = world.headers["anna"]
    phone = register(client, h, "anna-phone")
    assert client.delete(f"/me/devices/{phone}", headers=h).status_code == 204
    notify(container, world.anna, ended(1))
    assert client.get("/me/outbox", headers=h).json == []
    assert client.get("/me/notifications/unread-count", headers=h).json == {"unread": 1}


# --- temporary-code reminders, from a real redemption -----------------------------------


def test_a_hotel_guest_is_reminded_once_before_checkout(client, container, session, world, clock):
    site = f.site(session, world.setup, visibility="private")
    session.commit()
    staff, h = world.headers["staff"], world.headers["anna"]
    code = client.post(
        f"/operators/{world.setup.operator.id}/codes",
        json={
            "kind": "temporary",
            "site_ids": [site.id],
            "price_group_id": world.setup.company.id,
            "valid_from": "2026-11-20T12:00",
            "valid_to": "2026-11-21T12:00",  # noon in Warsaw: 11:00Z tomorrow
        },
        headers=staff,
    )
    assert code.status_code == 201, code.json
    membership = client.post("/me/memberships", json={"code": code.json["code"]}, headers=h)
    assert membership.status_code == 201, membership.json
    register(client, h, "guest-phone")

    with container.session_factory() as s:
        # 12:00Z now: 23 hours to checkout, inside the default 24-hour window.
        assert container.notifications.remind_expiring_codes(s, clock()) == 1
        assert container.notifications.remind_expiring_codes(s, clock()) == 0
        later = clock() + timedelta(hours=20)
        assert container.notifications.remind_expiring_codes(s, later) == 0

    [note] = client.get("/me/notifications", headers=h).json
    assert note["kind"] == "code_expiring"
    operator_name = world.setup.operator.name
    assert note["body"] == f"Twój dostęp do ładowarek {operator_name} wygaśnie za 23 godziny."
    assert note["data"] == {
        "membership_id": str(membership.json["id"]),
        "ends_at": "2026-11-21T11:00:00+00:00",
    }
    [push] = client.get("/me/outbox", headers=h).json
    assert push["body"] == note["body"]
    assert client.get("/me/notifications", headers=world.headers["bartek"]).json == []


# --- the embedded default on a SQLite file ----------------------------------------------


def test_the_embedded_default_on_sqlite_pushes_to_the_outbox(tmp_path: Path, clock):
    """The outbox writes in its own transaction; on SQLite (one writer at a time) the
    delivery loop must not hold a write open meanwhile, or it would lock itself out."""
    url = f"sqlite:///{tmp_path / 'wattpass.db'}"
    upgrade(url)
    c = bootstrap(Settings(database_url=url, secret_key="k" * 40), clock=clock)
    try:
        assert isinstance(c.notifications.notifier, OutboxNotifier)
        with c.session_factory() as s:
            driver = f.user(s, Role.DRIVER)
            s.commit()
            devices.register_device(s, driver.id, "laptop-app", "web", None, clock())
            for n in (1, 2):
                assert c.notifications.notify(s, driver.id, ended(n)) is not None
            pushed = read_outbox(s, driver.id)
            assert [m.data["session_id"] for m in pushed] == ["1", "2"]
            assert inbox(s, driver.id, page=1, page_size=10).total == 2
    finally:
        c.close()
