"""Firmware campaigns through the API: who gets a job, validation, the list and the
per-charger report, and another operator's campaign that does not exist."""

from __future__ import annotations

from typing import Any

import pytest

from backend.db.models.enums import Role
from tests import factories as f

BODY = {
    "vendor": "Acme",
    "model": "AC22",
    "firmware_version": "2.0.0",
    "location": "https://fw.example.com/acme/ac22-2.0.0.bin",
    "retrieve_at": "2026-11-21T02:00:00Z",
    "max_retries": 1,
}


@pytest.fixture
def world(client, session):  # type: ignore[no-untyped-def]
    mine, theirs = f.operator(session), f.operator(session)
    site = f.site(session, mine)
    old = f.charge_point(session, site)
    old.firmware_version = "1.0.0"
    done = f.charge_point(session, site)
    done.firmware_version = "2.0.0"
    other_model = f.charge_point(session, site)
    other_model.model = "DC50"
    other_vendor = f.charge_point(session, site)
    other_vendor.vendor = "Zeta"
    f.charge_point(session, f.site(session, theirs))  # an Acme AC22 of somebody else
    staff = f.user(session, Role.OPERATOR_STAFF, operator_id=mine.operator.id)
    their_staff = f.user(session, Role.OPERATOR_STAFF, operator_id=theirs.operator.id)
    session.commit()
    return {
        "url": f"/operators/{mine.operator.id}/firmware-campaigns",
        "their_url": f"/operators/{theirs.operator.id}/firmware-campaigns",
        "headers": f.login(client, staff),
        "their_headers": f.login(client, their_staff),
        "old": old.id,
        "done": done.id,
    }


def create(client, w, **changes: Any):  # type: ignore[no-untyped-def]
    return client.post(w["url"], json=BODY | changes, headers=w["headers"])


def test_a_campaign_takes_the_operators_chargers_of_that_model_and_vendor(client, world):
    r = create(client, world)
    assert r.status_code == 201, r.json
    c = r.json
    assert (c["model"], c["vendor"], c["firmware_version"], c["max_retries"]) == (
        "AC22",
        "Acme",
        "2.0.0",
        1,
    )
    assert c["retrieve_at"].startswith("2026-11-21T02:00:00")
    assert c["state"] == "scheduled"  # the clock says 20 Nov, noon
    jobs = {j["charge_point_id"]: j for j in c["jobs"]}
    assert set(jobs) == {world["old"], world["done"]}
    assert (jobs[world["old"]]["status"], jobs[world["old"]]["attempts"]) == ("pending", 0)
    assert jobs[world["old"]]["max_attempts"] == 2
    assert jobs[world["done"]]["status"] == "installed"  # already on the version
    assert jobs[world["done"]]["installed_version"] == "2.0.0"
    assert c["counts"]["pending"] == 1 and c["counts"]["installed"] == 1
    assert c["chargers"] == 2
    due = create(client, world, retrieve_at="2026-11-20T11:00:00Z", firmware_version="3.0.0")
    assert due.json["state"] == "running"


def test_without_vendor_every_vendor_of_the_model_counts(client, world):
    body = {k: v for k, v in BODY.items() if k != "vendor"}
    r = client.post(world["url"], json=body, headers=world["headers"])
    assert r.status_code == 201
    assert r.json["chargers"] == 3 and r.json["vendor"] == ""


def test_list_and_report(client, world):
    first = create(client, world).json
    second = create(client, world, firmware_version="2.1.0").json
    listed = client.get(world["url"], headers=world["headers"])
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json] == [second["id"], first["id"]]
    assert listed.json[0]["counts"]["pending"] == 2
    assert "jobs" not in listed.json[0]
    one = client.get(f"{world['url']}/{first['id']}", headers=world["headers"])
    assert one.status_code == 200 and one.json == first


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"location": "not a url"}, "location"),
        ({"location": "file:///etc/passwd"}, "location"),
        ({"retrieve_at": "2026-11-21T02:00:00"}, "retrieve_at"),
        ({"max_retries": 11}, "max_retries"),
        ({"model": "NOPE"}, "model"),
        ({"firmware_version": ""}, "firmware_version"),
    ],
)
def test_invalid_campaigns_are_422_naming_the_field(client, world, changes, field):
    r = create(client, world, **changes)
    assert r.status_code == 422, r.json
    assert field in r.json["errors"]


def test_another_operators_campaign_does_not_exist(client, world):
    mine = create(client, world).json
    r = client.get(f"{world['their_url']}/{mine['id']}", headers=world["their_headers"])
    assert r.status_code == 404
    assert client.get(world["their_url"], headers=world["their_headers"]).json == []
    r = client.get(f"{world['their_url']}/{mine['id']}", headers=world["headers"])
    assert r.status_code == 404
    r = client.post(world["their_url"], json=BODY, headers=world["headers"])
    assert r.status_code == 404
