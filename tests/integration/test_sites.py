"""Sites and charge points, operator side, through the API (real PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from backend.db.models import ChargePoint, Connector, Site
from backend.db.models.enums import Role
from backend.security.passwords import verify_password
from backend.services import charge_points as cps
from tests import factories as f

ERROR_SHAPE = {"code", "status", "message", "errors"}
WARSAW = {
    "name": "Galeria Warta",
    "street": "ul. Królowej Jadwigi 51",
    "postal_code": "61-872",
    "city": "Poznań",
    "country": "PL",
    "latitude": 52.4005,
    "longitude": 16.926,
    "visibility": "public",
}
TYPE2 = {"connector_id": 1, "plug_type": "type2", "max_power_kw": 22}


@pytest.fixture
def world(client, session):
    x, y = f.operator(session, "X"), f.operator(session, "Y")
    site_x = f.site(session, x, visibility="private")
    site_y = f.site(session, y)
    cp_y = f.charge_point(session, site_y)
    users = {
        "admin": f.user(session, Role.PLATFORM_ADMIN),
        "staff_x": f.user(session, Role.OPERATOR_STAFF, operator_id=x.operator.id),
        "staff_x2": f.user(session, Role.OPERATOR_STAFF, operator_id=x.operator.id),
        "staff_y": f.user(session, Role.OPERATOR_STAFF, operator_id=y.operator.id),
        "driver": f.user(session, Role.DRIVER),
    }
    session.commit()
    return {
        "x": x,
        "y": y,
        "site_x": site_x,
        "site_y": site_y,
        "cp_y": cp_y,
        "h": {name: f.login(client, u) for name, u in users.items()},
    }


def _error(r, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.json)
    assert set(r.json) == ERROR_SHAPE and r.json["status"] == status and r.json["message"]
    return r.json["errors"]


def _sites(world, who="staff_x"):
    return f"/operators/{world['x'].operator.id}/sites", world["h"][who]


# --- sites -----------------------------------------------------------------------------


def test_currency_vat_and_zone_follow_the_country(client, world):
    url, h = _sites(world)
    r = client.post(url, json=WARSAW, headers=h)
    assert r.status_code == 201, r.json
    assert (r.json["currency"], r.json["vat_rate"], r.json["timezone"]) == (
        "PLN",
        "0.23",
        "Europe/Warsaw",
    )
    oslo = {**WARSAW, "name": "Tøyen", "country": "NO", "latitude": 59.913, "longitude": 10.77}
    r = client.post(url, json=oslo, headers=h)
    assert r.status_code == 201, r.json
    assert (r.json["currency"], r.json["vat_rate"], r.json["timezone"]) == (
        "NOK",
        "0.25",
        "Europe/Oslo",
    )


def test_site_is_stored_with_its_country_rules(client, session, world):
    url, h = _sites(world)
    body = {**WARSAW, "country": "NO", "timezone": "Arctic/Longyearbyen"}
    site_id = client.post(url, json=body, headers=h).json["id"]
    site = session.get(Site, site_id)
    assert (site.currency, str(site.vat_rate.normalize()), site.timezone) == (
        "NOK",
        "0.25",
        "Arctic/Longyearbyen",
    )
    # The operator's public group is the default for drivers without a membership.
    assert site.default_price_group_id == world["x"].public.id


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currency": "EUR"}, "currency"),
        ({"vat_rate": "0.05"}, "vat_rate"),
        ({"country": "DE"}, "country"),
        ({"country": None}, "country"),
        ({"latitude": 91}, "latitude"),
        ({"longitude": -180.5}, "longitude"),
        ({"latitude": "north"}, "latitude"),
        ({"timezone": "Europe/Warsow"}, "timezone"),
        ({"timezone": "localtime"}, "timezone"),
        ({"visibility": "secret"}, "visibility"),
        ({"name": ""}, "name"),
        ({"name": "A\x00B"}, "name"),
        ({"default_price_group_id": 2**40}, "default_price_group_id"),
    ],
)
def test_invalid_sites_are_422(client, world, change, field):
    url, h = _sites(world)
    assert field in _error(client.post(url, json={**WARSAW, **change}, headers=h), 422)


def test_default_group_must_be_the_operators_and_public_where_everyone_charges(client, world):
    url, h = _sites(world)
    x, y = world["x"], world["y"]
    theirs = {**WARSAW, "default_price_group_id": y.public.id}
    assert "default_price_group_id" in _error(client.post(url, json=theirs, headers=h), 422)
    company = {**WARSAW, "default_price_group_id": x.company.id}
    assert "default_price_group_id" in _error(client.post(url, json=company, headers=h), 422)
    private = {**company, "visibility": "private"}
    r = client.post(url, json=private, headers=h)
    assert r.status_code == 201 and r.json["default_price_group_id"] == x.company.id


def test_sites_are_listed_by_name_and_paginated(client, world):
    url, h = _sites(world)
    for name in ("B site", "A site"):
        assert client.post(url, json={**WARSAW, "name": name}, headers=h).status_code == 201
    r = client.get(url + "?page=1&page_size=2", headers=h)
    assert r.status_code == 200
    assert [s["name"] for s in r.json] == ["A site", "B site"]
    assert '"total": 3' in r.headers["X-Pagination"]


def test_scope_of_sites(client, world):
    h, x, y, site_y = world["h"], world["x"].operator, world["y"].operator, world["site_y"]
    _error(client.get(f"/operators/{y.id}/sites", headers=h["staff_x"]), 404)
    _error(client.post(f"/operators/{y.id}/sites", json=WARSAW, headers=h["staff_x"]), 404)
    _error(client.get(f"/operators/{y.id}/sites/{site_y.id}", headers=h["staff_x"]), 404)
    # Y's site under X's operator id does not exist either.
    _error(client.get(f"/operators/{x.id}/sites/{site_y.id}", headers=h["staff_x"]), 404)
    _error(client.get(f"/operators/{x.id}/sites/{2**40}", headers=h["admin"]), 404)
    _error(client.post(f"/operators/{x.id}/sites", json=WARSAW, headers=h["driver"]), 403)
    _error(client.get(f"/operators/{x.id}/sites/{world['site_x'].id}", headers=h["driver"]), 403)
    _error(client.post(f"/operators/{x.id}/sites", json=WARSAW), 401)
    assert client.get(f"/operators/{y.id}/sites/{site_y.id}", headers=h["admin"]).status_code == 200


# --- ETag on site changes --------------------------------------------------------------


def test_site_change_needs_the_current_etag(client, session, world):
    h, x, site = world["h"], world["x"].operator, world["site_x"]
    url = f"/operators/{x.id}/sites/{site.id}"
    first = client.get(url, headers=h["staff_x"])
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag

    r = client.patch(url, json={"name": "No tag"}, headers=h["staff_x"])
    _error(r, 428)
    r = client.patch(
        url, json={"name": "Wrong tag"}, headers={**h["staff_x"], "If-Match": '"nope"'}
    )
    _error(r, 412)
    session.expire_all()
    assert session.get(Site, site.id).name == site.name  # neither attempt changed anything

    # Two staff members read the same version; the first change wins...
    mine = {**h["staff_x"], "If-Match": etag}
    r = client.patch(url, json={"name": "Garage A", "visibility": "public"}, headers=mine)
    assert r.status_code == 200, r.json
    assert (r.json["name"], r.json["visibility"]) == ("Garage A", "public")
    assert r.headers["ETag"] and r.headers["ETag"] != etag
    # ...and the second, made on the stale version, is refused instead of overwriting it.
    theirs = {**h["staff_x2"], "If-Match": etag}
    _error(client.patch(url, json={"name": "Garage B"}, headers=theirs), 412)
    fresh = client.get(url, headers=h["staff_x2"])
    assert fresh.json["name"] == "Garage A"
    assert fresh.headers["ETag"] == r.headers["ETag"]
    again = {**h["staff_x2"], "If-Match": fresh.headers["ETag"]}
    assert client.patch(url, json={"city": "Kraków"}, headers=again).json["city"] == "Kraków"


def test_site_change_rules(client, world):
    h, x, site = world["h"], world["x"], world["site_x"]
    url = f"/operators/{x.operator.id}/sites/{site.id}"

    def patch(body):
        tag = client.get(url, headers=h["staff_x"]).headers["ETag"]
        return client.patch(url, json=body, headers={**h["staff_x"], "If-Match": tag})

    assert "country" in _error(patch({"country": "NO"}), 422)
    assert patch({"country": "PL"}).status_code == 200
    assert "timezone" in _error(patch({"timezone": "Mars/Olympus"}), 422)
    assert "latitude" in _error(patch({"latitude": -90.01}), 422)
    # A private site whose default is the company group cannot simply open to everyone.
    assert patch({"default_price_group_id": x.company.id}).status_code == 200
    assert "default_price_group_id" in _error(patch({"visibility": "semi_public"}), 422)
    r = patch({"visibility": "semi_public", "default_price_group_id": x.public.id})
    assert r.status_code == 200 and r.json["visibility"] == "semi_public"
    assert patch({"timezone": "Europe/Berlin"}).json["timezone"] == "Europe/Berlin"
    # Another operator's staff cannot learn the ETag, nor use one.
    _error(client.patch(url, json={"name": "Z"}, headers={**h["staff_y"], "If-Match": "x"}), 404)


# --- charge points ---------------------------------------------------------------------


def _cp_url(world, site_key="site_x"):
    return f"/operators/{world['x'].operator.id}/sites/{world[site_key].id}/charge-points"


def _register(client, world, identity="WP-BLOCK-01", connectors=None, **extra):
    body = {"ocpp_identity": identity, "connectors": connectors or [TYPE2], **extra}
    return client.post(_cp_url(world), json=body, headers=world["h"]["staff_x"])


def test_registration_returns_the_ocpp_password_once_and_stores_only_its_hash(
    client, session, world
):
    r = _register(
        client,
        world,
        vendor="Alfen",
        model="Eve Double",
        serial_number="ACE123",
        connectors=[TYPE2, {"connector_id": 2, "plug_type": "ccs2", "max_power_kw": "7.4"}],
    )
    assert r.status_code == 201, r.json
    password = r.json["ocpp_password"]
    assert len(password) == 32 and password.isalnum()
    assert r.json["commissioned"] is False
    assert [
        (c["connector_id"], c["max_power_w"], c["max_power_kw"]) for c in r.json["connectors"]
    ] == [
        (1, 22000, "22"),
        (2, 7400, "7.4"),
    ]
    cp = session.get(ChargePoint, r.json["id"])
    assert cp.password_hash.startswith("$argon2id$") and password not in cp.password_hash
    assert verify_password(cp.password_hash, password)
    assert cps.authenticate(session, "WP-BLOCK-01", password).id == cp.id
    assert cps.authenticate(session, "WP-BLOCK-01", password[:-1]) is None
    # Never shown again.
    h = world["h"]["staff_x"]
    again = client.get(f"/operators/{world['x'].operator.id}/charge-points/{cp.id}", headers=h)
    listed = client.get(_cp_url(world), headers=h)
    assert password not in again.get_data(as_text=True)
    assert password not in listed.get_data(as_text=True)
    assert "ocpp_password" not in again.json and "password_hash" not in again.json


def test_rotating_the_password_retires_the_old_one(client, session, world):
    first = _register(client, world).json
    url = f"/operators/{world['x'].operator.id}/charge-points/{first['id']}/rotate-password"
    r = client.post(url, headers=world["h"]["admin"])
    assert r.status_code == 200, r.json
    new = r.json["ocpp_password"]
    assert new != first["ocpp_password"]
    assert cps.authenticate(session, "WP-BLOCK-01", first["ocpp_password"]) is None
    assert cps.authenticate(session, "WP-BLOCK-01", new) is not None
    _error(client.post(url, headers=world["h"]["staff_y"]), 404)
    _error(client.post(url, headers=world["h"]["driver"]), 403)
    _error(client.post(url), 401)


def test_ocpp_identity_is_unique_platform_wide_ignoring_case(client, world):
    taken = world["cp_y"].ocpp_identity  # operator Y's
    assert "ocpp_identity" in _error(_register(client, world, identity=taken), 409)
    assert "ocpp_identity" in _error(_register(client, world, identity=taken.lower()), 409)
    assert _register(client, world, identity="wp.block_01-a").status_code == 201


@pytest.mark.parametrize("identity", ["WP/01", "WP 01", "..", "ŁÓDŹ-1", "A" * 49, "", "WP%2F1"])
def test_identity_charset_is_what_a_url_path_takes(client, world, identity):
    assert "ocpp_identity" in _error(_register(client, world, identity=identity), 422)


@pytest.mark.parametrize(
    ("connectors", "field"),
    [
        ([], "connectors"),
        ([TYPE2, TYPE2], "connectors.1.connector_id"),
        ([{**TYPE2, "connector_id": 0}], "connectors"),
        ([{**TYPE2, "plug_type": "tesla"}], "connectors"),
        ([{**TYPE2, "max_power_kw": "0"}], "connectors.0.max_power_kw"),
        ([{**TYPE2, "max_power_kw": "22.0001"}], "connectors.0.max_power_kw"),
        ([{**TYPE2, "max_power_kw": "5000"}], "connectors.0.max_power_kw"),
        ([{"connector_id": 1, "plug_type": "type2"}], "connectors"),
    ],
)
def test_invalid_connectors_are_422(client, world, connectors, field):
    r = client.post(
        _cp_url(world),
        json={"ocpp_identity": "WP-X", "connectors": connectors},
        headers=world["h"]["staff_x"],
    )
    assert field in _error(r, 422)


def test_staff_view_shows_what_the_charger_reported(client, session, world):
    h, y = world["h"], world["y"].operator
    cp = world["cp_y"]
    seen = datetime(2026, 11, 20, 11, 59, 50, tzinfo=UTC)
    cp.firmware_version, cp.last_seen_at, cp.status = "2.1.7", seen, "online"
    conn = session.scalar(select(Connector).where(Connector.charge_point_id == cp.id))
    conn.status, conn.status_at = "Charging", seen
    session.commit()
    r = client.get(f"/operators/{y.id}/charge-points/{cp.id}", headers=h["staff_y"])
    assert r.status_code == 200
    assert (r.json["firmware_version"], r.json["status"]) == ("2.1.7", "online")
    assert r.json["last_seen_at"].startswith("2026-11-20T11:59:50")
    assert [c["status"] for c in r.json["connectors"]] == ["Charging", "Available"]
    listed = client.get(
        f"/operators/{y.id}/sites/{world['site_y'].id}/charge-points", headers=h["staff_y"]
    )
    assert [c["ocpp_identity"] for c in listed.json] == [cp.ocpp_identity]


def test_commissioning_puts_the_point_in_the_app(client, world):
    h, x = world["h"], world["x"].operator
    public_site = client.post(f"/operators/{x.id}/sites", json=WARSAW, headers=h["staff_x"]).json
    url = f"/operators/{x.id}/sites/{public_site['id']}/charge-points"
    cp = client.post(
        url, json={"ocpp_identity": "WP-MALL-09", "connectors": [TYPE2]}, headers=h["staff_x"]
    ).json
    assert client.get(f"/charge-points/{cp['id']}").status_code == 404  # not yet installed
    r = client.patch(
        f"/operators/{x.id}/charge-points/{cp['id']}",
        json={
            "commissioned": True,
            "vendor": "Ekoenergetyka",
            "connectors": [
                {"connector_id": 1, "plug_type": "ccs2", "max_power_kw": 150},
                {"connector_id": 2, "plug_type": "type2", "max_power_kw": 22},
            ],
        },
        headers=h["staff_x"],
    )
    assert r.status_code == 200, r.json
    assert r.json["vendor"] == "Ekoenergetyka"
    assert [(c["plug_type"], c["max_power_w"]) for c in r.json["connectors"]] == [
        ("ccs2", 150000),
        ("type2", 22000),
    ]
    assert client.get(f"/charge-points/{cp['id']}").status_code == 200


def test_charge_point_changes_and_scope(client, world):
    h, x, y = world["h"], world["x"].operator, world["y"].operator
    mine = _register(client, world).json
    url = f"/operators/{x.id}/charge-points/{mine['id']}"
    taken = world["cp_y"].ocpp_identity
    assert "ocpp_identity" in _error(
        client.patch(url, json={"ocpp_identity": taken}, headers=h["staff_x"]), 409
    )
    r = client.patch(url, json={"ocpp_identity": "WP-BLOCK-1A"}, headers=h["staff_x"])
    assert r.status_code == 200 and r.json["ocpp_identity"] == "WP-BLOCK-1A"
    assert "vendor" in _error(
        client.patch(url, json={"vendor": "V" * 51}, headers=h["staff_x"]), 422
    )
    theirs = f"/operators/{y.id}/charge-points/{world['cp_y'].id}"
    _error(client.get(theirs, headers=h["staff_x"]), 404)
    _error(client.patch(theirs, json={"vendor": "Z"}, headers=h["staff_x"]), 404)
    # Y's charge point under X's operator id is not X's either.
    _error(
        client.get(f"/operators/{x.id}/charge-points/{world['cp_y'].id}", headers=h["staff_x"]), 404
    )
    _error(
        client.get(
            f"/operators/{y.id}/sites/{world['site_y'].id}/charge-points", headers=h["staff_x"]
        ),
        404,
    )
    _error(
        client.post(
            f"/operators/{x.id}/sites/{world['site_y'].id}/charge-points",
            json={"ocpp_identity": "WP-Q", "connectors": [TYPE2]},
            headers=h["staff_x"],
        ),
        404,
    )
    _error(client.get(url, headers=h["driver"]), 403)
    _error(client.get(url), 401)
    assert client.get(theirs, headers=h["admin"]).status_code == 200


def test_a_connector_change_needs_its_connector_id_and_the_rest(client, world):
    # Found by the API fuzzer: PATCH loaded its connectors as partial, so one without
    # connector_id reached the service and failed there (a 500).
    mine = _register(client, world).json
    url = f"/operators/{world['x'].operator.id}/charge-points/{mine['id']}"
    for connector, field in (
        ({"plug_type": "type2", "max_power_kw": "11"}, "connector_id"),
        ({"connector_id": 1, "max_power_kw": "11"}, "plug_type"),
        ({"connector_id": 1, "plug_type": "type2"}, "max_power_kw"),
    ):
        r = client.patch(url, json={"connectors": [connector]}, headers=world["h"]["staff_x"])
        assert field in _error(r, 422)["connectors"]["0"], r.json
    assert client.get(url, headers=world["h"]["staff_x"]).json["connectors"] == mine["connectors"]
