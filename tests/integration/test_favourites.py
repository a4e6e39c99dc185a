"""A driver's favourites through the API on the real PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from backend.api.pagination import MAX_PAGE
from backend.db.models.enums import Role
from tests import factories as f

WARSAW = (52.2297, 21.0122)


@pytest.fixture
def world(session):
    op = f.operator(session, "Alpha")
    public_site = f.site(session, op, lat=52.24, lon=21.01)
    garage = f.site(session, op, lat=52.25, lon=21.02, visibility="private")
    world = {
        "op": op,
        "garage": garage,
        "public": f.charge_point(session, public_site),
        "second": f.charge_point(session, public_site, plug="ccs2", power_w=50000),
        "private": f.charge_point(session, garage),
        "driver": f.user(session),
    }
    session.commit()
    return world


def starred(client, headers, **params):
    r = client.get("/me/favourites", headers=headers, query_string=params)
    assert r.status_code == 200, r.json
    return [item["id"] for item in r.json], r


def test_star_list_and_unstar(client, world):
    h = f.login(client, world["driver"])
    cp = world["public"]
    assert starred(client, h)[0] == []

    assert client.put(f"/me/favourites/{cp.id}", headers=h).status_code == 204
    assert client.put(f"/me/favourites/{cp.id}", headers=h).status_code == 204  # idempotent
    found, r = starred(client, h)
    assert found == [cp.id]
    assert json.loads(r.headers["X-Pagination"])["total"] == 1
    item = r.json[0]
    # The same shape as the catalogue, with the star shown.
    assert item["favourite"] is True and item["price_group"]["kind"] == "public"
    assert [c["plug_type"] for c in item["connectors"]] == ["type2", "type2"]
    assert item["distance_m"] is None
    search = client.get(
        "/charge-points", query_string={"lat": WARSAW[0], "lon": WARSAW[1]}, headers=h
    ).json
    assert {i["id"]: i["favourite"] for i in search} == {cp.id: True, world["second"].id: False}

    assert client.delete(f"/me/favourites/{cp.id}", headers=h).status_code == 204
    assert client.delete(f"/me/favourites/{cp.id}", headers=h).status_code == 204
    assert starred(client, h)[0] == []


def test_latest_star_comes_first_and_distance_is_given_on_request(client, world, clock):
    h = f.login(client, world["driver"])
    client.put(f"/me/favourites/{world['public'].id}", headers=h)
    clock.advance(minutes=5)
    client.put(f"/me/favourites/{world['second'].id}", headers=h)
    found, r = starred(client, h, lat=WARSAW[0], lon=WARSAW[1])
    assert found == [world["second"].id, world["public"].id]
    assert all(1_000 < item["distance_m"] < 2_000 for item in r.json)
    found, _ = starred(client, h, page=2, page_size=1)
    assert found == [world["public"].id]


def test_a_private_point_cannot_be_starred_by_a_non_member(client, world):
    h = f.login(client, world["driver"])
    r = client.put(f"/me/favourites/{world['private'].id}", headers=h)
    assert r.status_code == 404
    missing = client.put("/me/favourites/999999", headers=h)
    assert missing.status_code == 404 and r.json == missing.json
    assert client.put(f"/me/favourites/{2**63}", headers=h).status_code == 404
    assert starred(client, h)[0] == []


def test_star_of_a_private_point_disappears_when_the_membership_ends(client, session, world, clock):
    f.membership(
        session,
        world["driver"],
        world["op"],
        [world["garage"]],
        ends_at=clock() + timedelta(days=2),
    )
    session.commit()
    h = f.login(client, world["driver"])
    assert client.put(f"/me/favourites/{world['private'].id}", headers=h).status_code == 204
    client.put(f"/me/favourites/{world['public'].id}", headers=h)
    found, r = starred(client, h)
    assert set(found) == {world["private"].id, world["public"].id}
    assert next(i for i in r.json if i["id"] == world["private"].id)["member"] is True

    clock.advance(days=2)
    h = f.login(client, world["driver"])
    found, r = starred(client, h)
    assert found == [world["public"].id]
    assert json.loads(r.headers["X-Pagination"])["total"] == 1


def test_drivers_see_only_their_own_favourites(client, session, world):
    other = f.user(session)
    session.commit()
    a, b = f.login(client, world["driver"]), f.login(client, other)
    client.put(f"/me/favourites/{world['public'].id}", headers=a)
    assert starred(client, b)[0] == []
    # B removing "their" star on the same point leaves A's alone.
    client.delete(f"/me/favourites/{world['public'].id}", headers=b)
    assert starred(client, a)[0] == [world["public"].id]


def test_favourites_are_for_drivers_only(client, session, world):
    staff = f.user(session, Role.OPERATOR_STAFF, operator_id=world["op"].operator.id)
    session.commit()
    cp = world["public"].id
    assert client.get("/me/favourites").status_code == 401
    assert client.put(f"/me/favourites/{cp}").status_code == 401
    h = f.login(client, staff)
    for method in ("get", "put", "delete"):
        path = "/me/favourites" if method == "get" else f"/me/favourites/{cp}"
        r = getattr(client, method)(path, headers=h)
        assert r.status_code == 403
        assert set(r.json) == {"code", "status", "message", "errors"}


def test_invalid_list_parameters_are_422(client, world):
    h = f.login(client, world["driver"])
    for params, field in (({"lat": 100, "lon": 0}, "lat"), ({"lon": 20}, "lat")):
        r = client.get("/me/favourites", headers=h, query_string=params)
        assert r.status_code == 422 and field in r.json["errors"]


def test_a_page_far_beyond_the_list_is_empty_and_a_page_beyond_any_list_is_422(client, world):
    # Found by the API fuzzer: page=233531442 made an offset beyond the 32-bit integer the
    # query binds, and the database refused it (a 500). `page` is now bounded for every
    # list (backend/api/pagination.py).
    h = f.login(client, world["driver"])
    assert client.put(f"/me/favourites/{world['public'].id}", headers=h).status_code == 204
    found, r = starred(client, h, page=MAX_PAGE, page_size=100)
    assert found == []
    assert json.loads(r.headers["X-Pagination"])["total"] == 1
    for page in (MAX_PAGE + 1, 233531442, 10**30):
        r = client.get("/me/favourites", headers=h, query_string={"page": page})
        assert r.status_code == 422 and "page" in r.json["errors"], r.json
