"""The catalogue through the API on the real PostgreSQL: search, filters, pages, visibility."""

from __future__ import annotations

import itertools
import json
import math
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from flask_smorest.pagination import PaginationMixin
from sqlalchemy import delete, select, update

from backend.api import catalogue as catalogue_api
from backend.api.catalogue import CatalogueItemSchema
from backend.app import create_app
from backend.config import Settings
from backend.db.migrate import upgrade
from backend.db.models import ChargePoint, Connector, Site
from backend.db.models.enums import Role
from backend.errors import NotFound
from backend.services import catalogue_summary
from backend.services.catalogue_sql import NOT_AVAILABLE
from backend.services.visibility import Viewer, require_site_access, site_access
from shared.geo import haversine_m
from tests import factories as f

CENTRE = (52.2297, 21.0122)  # Warsaw, Palace of Culture
M_PER_DEG_LAT = 111_195.0


def north(km: float) -> tuple[float, float]:
    return CENTRE[0] + km * 1000 / M_PER_DEG_LAT, CENTRE[1]


def east(km: float) -> tuple[float, float]:
    per_deg = M_PER_DEG_LAT * math.cos(math.radians(CENTRE[0]))
    return CENTRE[0], CENTRE[1] + km * 1000 / per_deg


def point(s, setup, where, **kw):
    """A site at ``where`` with one charge point; keyword args go to the charge point."""
    visibility = kw.pop("visibility", "public")
    st = f.site(s, setup, lat=where[0], lon=where[1], visibility=visibility)
    return st, f.charge_point(s, st, **kw)


def search(client, headers=None, **params):
    query = {"lat": CENTRE[0], "lon": CENTRE[1], **params}
    r = client.get("/charge-points", query_string=query, headers=headers or {})
    assert r.status_code == 200, r.json
    return r


def ids(r) -> list[int]:
    return [item["id"] for item in r.json]


@pytest.fixture
def op(session):
    return f.operator(session, "Alpha")


def test_points_come_nearest_first_with_their_distance(client, session, op):
    far = point(session, op, north(3))[1]
    near = point(session, op, east(0.3))[1]
    mid = point(session, op, north(1.2))[1]
    session.commit()

    r = search(client)
    assert ids(r) == [near.id, mid.id, far.id]
    expected = haversine_m(*CENTRE, *north(1.2))
    assert r.json[1]["distance_m"] == round(expected)
    assert 1190 <= r.json[1]["distance_m"] <= 1210


def test_radius_cuts_off_exactly_at_the_great_circle_distance(client, session, op):
    inside = point(session, op, north(4.9))[1]
    outside = point(session, op, north(5.1))[1]
    # Inside the search box (4 km north and 4 km east) but 5.66 km away: the corner.
    corner_lat, corner_lon = north(4)[0], east(4)[1]
    corner = point(session, op, (corner_lat, corner_lon))[1]
    session.commit()

    assert ids(search(client)) == [inside.id]  # default radius 5 km
    assert set(ids(search(client, radius_km=5.7))) == {inside.id, outside.id, corner.id}
    assert ids(search(client, radius_km=4.8)) == []


def test_plug_type_and_power_filters(client, session, op):
    ac = point(session, op, north(1), plug="type2", power_w=22000)[1]
    dc = point(session, op, north(2), plug="ccs2", power_w=150000)[1]
    slow = point(session, op, north(3), plug="type2", power_w=7400)[1]
    session.commit()

    assert ids(search(client, plug_type="ccs2")) == [dc.id]
    assert ids(search(client, plug_type=["ccs2", "chademo"])) == [dc.id]
    assert ids(search(client, min_power_kw="22")) == [ac.id, dc.id]
    assert ids(search(client, min_power_kw="22.001")) == [dc.id]
    assert ids(search(client, min_power_kw="7.4", plug_type="type2")) == [ac.id, slow.id]
    item = search(client, plug_type="ccs2").json[0]
    assert item["connectors"][0]["max_power_kw"] == "150"
    assert search(client, plug_type="type2").json[-1]["connectors"][0]["max_power_kw"] == "7.4"


def test_available_now_needs_a_free_matching_connector_on_an_online_point(client, session, op):
    free = point(session, op, north(1))[1]
    busy = point(session, op, north(2), status="Charging")[1]
    offline = point(session, op, north(3))[1]
    mixed_site = f.site(session, op, lat=north(4)[0], lon=CENTRE[1])
    mixed = f.charge_point(session, mixed_site, connectors=1, plug="ccs2", power_w=50000)
    session.add(
        Connector(
            charge_point_id=mixed.id,
            connector_id=2,
            plug_type="type2",
            max_power_w=22000,
            status="Available",
        )
    )
    session.execute(
        update(ChargePoint).where(ChargePoint.id == offline.id).values(status="offline")
    )
    session.execute(
        update(Connector)
        .where(Connector.charge_point_id == mixed.id, Connector.plug_type == "ccs2")
        .values(status="Charging")
    )
    session.commit()

    assert ids(search(client)) == [free.id, busy.id, offline.id, mixed.id]
    assert ids(search(client, available_now="true")) == [free.id, mixed.id]
    # The free connector is a Type 2: the busy CCS does not count as "a free CCS".
    assert ids(search(client, available_now="true", plug_type="ccs2")) == []
    assert ids(search(client, available_now="true", plug_type="type2")) == [free.id, mixed.id]


def test_operator_and_price_group_filters(client, session, op):
    other = f.operator(session, "Beta")
    mine = point(session, op, north(1))[1]
    theirs = point(session, other, north(2))[1]
    session.commit()

    assert ids(search(client, operator_id=other.operator.id)) == [theirs.id]
    # For an anonymous caller the site's public group applies.
    assert ids(search(client, price_group_id=op.public.id)) == [mine.id]
    assert ids(search(client, price_group_id=op.company.id)) == []


def test_pages_walk_the_whole_result_once(client, session, op):
    points = [point(session, op, north(0.1 * (n + 1)))[1] for n in range(25)]
    session.commit()

    seen = []
    for page in (1, 2, 3):
        r = search(client, page=page, page_size=10)
        meta = json.loads(r.headers["X-Pagination"])
        assert meta["total"] == 25 and meta["total_pages"] == 3 and meta["page"] == page
        seen += ids(r)
    assert seen == [p.id for p in points]
    past = search(client, page=4, page_size=10)
    assert past.json == [] and json.loads(past.headers["X-Pagination"])["total"] == 25
    assert len(search(client, page_size=100).json) == 25


def test_no_ocpp_identity_is_shown(client, session, op):
    cp = point(session, op, north(1))[1]
    session.commit()
    for r in (search(client), client.get(f"/charge-points/{cp.id}")):
        assert cp.ocpp_identity not in r.get_data(as_text=True)
        assert "ocpp_identity" not in r.get_data(as_text=True)


def test_details_show_connectors_and_live_status(client, session, op, clock):
    cp = point(session, op, north(1), connectors=2)[1]
    session.commit()
    r = client.get(f"/charge-points/{cp.id}", query_string={"lat": CENTRE[0], "lon": CENTRE[1]})
    assert r.status_code == 200
    assert [c["status"] for c in r.json["connectors"]] == ["Available", "Available"]
    assert 990 <= r.json["distance_m"] <= 1010
    assert r.json["site"]["operator"]["name"] == op.operator.name
    assert r.json["site"]["timezone"] == "Europe/Warsaw" and r.json["site"]["currency"] == "PLN"

    session.execute(
        update(Connector)
        .where(Connector.charge_point_id == cp.id, Connector.connector_id == 2)
        .values(status="Charging", status_at=clock())
    )
    session.commit()
    r = client.get(f"/charge-points/{cp.id}")
    assert [c["status"] for c in r.json["connectors"]] == ["Available", "Charging"]
    assert r.json["connectors"][1]["status_at"].startswith("2026-11-20T12:00:00")
    assert r.json["distance_m"] is None


def test_uncommissioned_points_are_not_listed(client, session, op):
    cp = point(session, op, north(1))[1]
    session.execute(update(ChargePoint).where(ChargePoint.id == cp.id).values(commissioned=False))
    session.commit()
    assert ids(search(client)) == []
    assert client.get(f"/charge-points/{cp.id}").status_code == 404


def test_search_across_the_antimeridian(client, session, op):
    fiji = f.site(session, op, lat=-17.0, lon=-179.95, name="Taveuni")
    cp = f.charge_point(session, fiji)
    session.commit()
    r = client.get("/charge-points", query_string={"lat": -17.0, "lon": 179.95, "radius_km": 20})
    assert ids(r) == [cp.id]
    assert 10_500 <= r.json[0]["distance_m"] <= 10_700


def many_points(s, setup, places, *, plug="type2", status="Available"):
    """One charge point with one connector at each place, inserted in bulk."""
    sites = [
        Site(
            operator_id=setup.operator.id,
            name=f"Bulk {n}",
            country="PL",
            latitude=lat,
            longitude=lon,
            timezone="Europe/Warsaw",
            currency="PLN",
            vat_rate=Decimal("0.23"),
            visibility="public",
            default_price_group_id=setup.public.id,
        )
        for n, (lat, lon) in enumerate(places)
    ]
    s.add_all(sites)
    s.flush()
    points = [
        ChargePoint(site_id=st.id, ocpp_identity=f"BULK-{st.id}", status="online") for st in sites
    ]
    s.add_all(points)
    s.flush()
    s.add_all(
        Connector(
            charge_point_id=cp.id,
            connector_id=1,
            plug_type=plug,
            max_power_w=22000,
            status=status,
        )
        for cp in points
    )
    s.flush()
    return {cp.id: (st.latitude, st.longitude) for cp, st in zip(points, sites, strict=True)}


def nearest(points, radius_km):
    """The brute-force answer: every point within the radius, nearest first, then by id."""
    found = [(haversine_m(*CENTRE, *where), cp) for cp, where in points.items()]
    return [cp for d, cp in sorted(found) if d <= radius_km * 1000]


def test_search_agrees_with_brute_force_on_scattered_points(client, session, op):
    rng = random.Random(11)
    places = [
        (CENTRE[0] + rng.uniform(-0.3, 0.3), CENTRE[1] + rng.uniform(-0.5, 0.5)) for _ in range(400)
    ]
    points = many_points(session, op, places)
    session.commit()
    for radius in (1, 3, 8, 20, 40):
        expected = nearest(points, radius)
        got = []
        for page in range(1, 100):
            r = search(client, radius_km=radius, page=page, page_size=50)
            got += ids(r)
            if not r.json:
                break
        assert got == expected, radius
        assert json.loads(r.headers["X-Pagination"])["total"] == len(expected)


def test_total_stops_at_a_thousand_and_pages_stay_exact(client, session, op):
    """1,100 points: 1,060 in a ring 9-10 km out and 40 scattered nearer, so the first
    circle searched is too small and has to grow."""
    rng = random.Random(5)
    far = [north(rng.uniform(9, 10)) for _ in range(1060)]
    near = [east(rng.uniform(0.2, 8.5)) for _ in range(40)]
    points = many_points(session, op, far + near)
    session.commit()
    expected = nearest(points, 10)
    assert len(expected) == 1100

    r = search(client, radius_km=10, page_size=30)
    meta = json.loads(r.headers["X-Pagination"])
    assert meta["total"] == 1000 and meta["total_exact"] is False
    assert meta["total_pages"] == 34
    assert ids(r) == expected[:30]
    assert ids(search(client, radius_km=10, page=2, page_size=30)) == expected[30:60]
    assert ids(search(client, radius_km=10, page=20, page_size=50)) == expected[950:1000]
    assert search(client, radius_km=10, page=21, page_size=50).json == []
    # A smaller circle holds fewer than a thousand: counted exactly again.
    small = json.loads(search(client, radius_km=8.6).headers["X-Pagination"])
    assert small["total_exact"] is True
    assert small["total"] == len(nearest(points, 8.6)) < 1000


def test_items_have_exactly_the_documented_shape(client, session, op, clock):
    """The views build the JSON by hand for speed: it must match CatalogueItemSchema."""
    st, cp = point(session, op, north(1))
    session.execute(update(ChargePoint).values(last_seen_at=clock()))
    session.execute(update(Connector).values(status_at=clock(), max_power_w=7400))
    driver = f.user(session)
    f.membership(session, driver, op, [st])
    session.commit()
    h = f.login(client, driver)
    client.put(f"/me/favourites/{cp.id}", headers=h)
    r = search(client, h)
    item = r.json[0]
    documented = CatalogueItemSchema().dump(CatalogueItemSchema().load(item))
    assert json.loads(json.dumps(documented)) == item
    assert item["connectors"][0]["max_power_kw"] == "7.4"
    assert item["favourite"] is True and item["member"] is True
    assert item["last_seen_at"] == "2026-11-20T12:00:00+00:00"
    spec = client.get("/openapi.json").json["components"]["schemas"]
    assert set(spec["CatalogueItem"]["properties"]) == set(item)


# --- the connector summary of sites (catalogue_summary) -----------------------------------


def stored_bits(s, site_id):
    s.expire_all()
    return s.scalar(select(Site.connector_bits).where(Site.id == site_id))


def expected_bits(s, site_id):
    rows = s.execute(
        select(Connector.plug_type, Connector.max_power_w)
        .join(ChargePoint, ChargePoint.id == Connector.charge_point_id)
        .where(ChargePoint.site_id == site_id)
    ).all()
    return catalogue_summary.site_bits((r.plug_type, r.max_power_w) for r in rows)


def test_the_summary_follows_the_connectors_an_operator_adds_and_changes(client, session, op):
    staff = f.user(session, Role.OPERATOR_STAFF, operator_id=op.operator.id)
    st = f.site(session, op, lat=north(1)[0], lon=CENTRE[1])
    session.commit()
    h = f.login(client, staff)
    assert stored_bits(session, st.id) is None  # never summarised: every filter lets it by
    base = f"/operators/{op.operator.id}"

    def connector(n, plug, kw):
        return {"connector_id": n, "plug_type": plug, "max_power_kw": kw}

    r = client.post(
        f"{base}/sites/{st.id}/charge-points",
        json={
            "ocpp_identity": "SUM-1",
            "commissioned": True,
            "connectors": [connector(1, "type2", 22)],
        },
        headers=h,
    )
    assert r.status_code == 201, r.json
    cp = r.json["id"]
    assert stored_bits(session, st.id) == expected_bits(session, st.id) != 0
    assert ids(search(client, plug_type="type2", min_power_kw="22")) == [cp]
    assert ids(search(client, min_power_kw="50")) == []

    # Added: a 150 kW CCS next to the Type 2.
    patch = {"connectors": [connector(2, "ccs2", 150)]}
    assert client.patch(f"{base}/charge-points/{cp}", json=patch, headers=h).status_code == 200
    assert stored_bits(session, st.id) == expected_bits(session, st.id)
    assert ids(search(client, plug_type="ccs2", min_power_kw="150")) == [cp]
    assert ids(search(client, plug_type="type2", min_power_kw="50")) == []

    # Changed: the CCS turned down to 50 kW, the Type 2 replaced by a CHAdeMO.
    patch = {"connectors": [connector(2, "ccs2", 50), connector(1, "chademo", 50)]}
    assert client.patch(f"{base}/charge-points/{cp}", json=patch, headers=h).status_code == 200
    assert stored_bits(session, st.id) == expected_bits(session, st.id)
    assert ids(search(client, min_power_kw="150")) == []
    assert ids(search(client, plug_type="chademo", min_power_kw="50")) == [cp]
    assert ids(search(client, plug_type="type2")) == []

    # A second point on the site adds its connectors, uncommissioned as it is.
    r = client.post(
        f"{base}/sites/{st.id}/charge-points",
        json={"ocpp_identity": "SUM-2", "connectors": [connector(1, "type1", 7.4)]},
        headers=h,
    )
    assert r.status_code == 201, r.json
    assert stored_bits(session, st.id) == expected_bits(session, st.id)
    assert ids(search(client, plug_type="type1")) == []  # not in the app until commissioned
    patch = {"commissioned": True}
    assert (
        client.patch(f"{base}/charge-points/{r.json['id']}", json=patch, headers=h).status_code
        == 200
    )
    assert ids(search(client, plug_type="type1")) == [r.json["id"]]


def test_a_summary_that_claims_too_much_costs_a_probe_never_a_wrong_answer(client, session, op):
    """Connectors removed behind the summary's back (nothing in the services removes
    them today) leave bits that claim too much: the exact test still decides."""
    st = f.site(session, op, lat=north(1)[0], lon=CENTRE[1])
    cp = f.charge_point(session, st, connectors=1, plug="ccs2", power_w=150000)
    session.add(
        Connector(charge_point_id=cp.id, connector_id=2, plug_type="type2", max_power_w=11000)
    )
    catalogue_summary.refresh_site(session, st.id)
    session.commit()
    assert ids(search(client, plug_type="ccs2", min_power_kw="150")) == [cp.id]

    session.execute(delete(Connector).where(Connector.plug_type == "ccs2"))
    session.commit()
    assert stored_bits(session, st.id) != expected_bits(session, st.id)
    assert ids(search(client, plug_type="ccs2")) == []
    assert ids(search(client, min_power_kw="22")) == []
    assert ids(search(client, plug_type="type2", min_power_kw="11")) == [cp.id]

    catalogue_summary.refresh_site(session, st.id)
    session.commit()
    assert stored_bits(session, st.id) == expected_bits(session, st.id)
    assert ids(search(client, plug_type="type2", min_power_kw="11")) == [cp.id]


PLUG_POWERS = [
    ("type2", 7400),
    ("type2", 11000),
    ("type2", 22000),
    ("ccs2", 50000),
    ("ccs2", 150000),
    ("ccs2", 350000),
    ("chademo", 50000),
    ("type1", 3700),
    ("schuko", 2300),
    ("nacs", 250000),
]  # fmt: skip  (nacs: a plug without a slot)
STATUSES = ["Available", "Available", "Charging", "Faulted"]
SEQ = itertools.count(1)


def varied_points(s, setup, rng, n_sites):
    """Sites of 1-3 points of 1-2 random connectors around the centre; nine sites in
    ten summarised, the rest left NULL. Returns {cp_id: (lat, lon, status, connectors)}."""
    points = {}
    for n in range(n_sites):
        lat = CENTRE[0] + rng.uniform(-0.15, 0.15)
        lon = CENTRE[1] + rng.uniform(-0.25, 0.25)
        st = f.site(s, setup, lat=lat, lon=lon, name=f"Varied {n}")
        for _ in range(rng.randint(1, 3)):
            status = rng.choice(["online", "online", "online", "offline", "faulted"])
            cp = ChargePoint(site_id=st.id, ocpp_identity=f"VAR-{next(SEQ)}", status=status)
            s.add(cp)
            s.flush()
            connectors = []
            for c in range(1, rng.randint(1, 2) + 1):
                plug, watts = rng.choice(PLUG_POWERS)
                state = rng.choice(STATUSES)
                s.add(
                    Connector(
                        charge_point_id=cp.id,
                        connector_id=c,
                        plug_type=plug,
                        max_power_w=watts,
                        status=state,
                    )
                )
                connectors.append((plug, watts, state))
            points[cp.id] = (lat, lon, status, connectors)
        s.flush()
        if rng.random() < 0.9:
            catalogue_summary.refresh_site(s, st.id)
    return points


def brute_force(points, radius_km, plugs, min_w, available):
    def fits(plug, watts, state):
        return (
            (not plugs or plug in plugs)
            and (min_w is None or watts >= min_w)
            and (not available or state == "Available")
        )

    found = []
    for cp, (lat, lon, status, connectors) in points.items():
        if available and status in NOT_AVAILABLE:
            continue
        if any(fits(*c) for c in connectors):
            found.append((haversine_m(*CENTRE, lat, lon), cp))
    return [cp for d, cp in sorted(found) if d <= radius_km * 1000]


def test_plug_and_power_filters_agree_with_brute_force(client, session, op):
    points = varied_points(session, op, random.Random(23), 250)
    session.commit()
    filters = list(
        itertools.product(
            [(), ("ccs2",), ("type2",), ("chademo", "type1"), ("schuko",)],
            [None, "2.3", "7.4", "11", "22.001", "50", "120", "150", "350"],
            [False, True],
        )
    )
    checked = 0
    for plugs, kw, available in filters:
        params = {"radius_km": 12, "page_size": 100, "plug_type": list(plugs)}
        if kw is not None:
            params["min_power_kw"] = kw
        if available:
            params["available_now"] = "true"
        min_w = int(Decimal(kw) * 1000) if kw is not None else None
        expected = brute_force(points, 12, plugs, min_w, available)
        got, page = [], 1
        while True:
            r = search(client, page=page, **params)
            got += ids(r)
            if len(r.json) < 100:
                break
            page += 1
        assert got == expected, (plugs, kw, available)
        assert json.loads(r.headers["X-Pagination"])["total"] == len(expected)
        checked += bool(expected)
    assert checked > len(filters) // 2  # most find something: real lists are compared


# --- visibility (domain.md §2 and §5) -----------------------------------------------------


@pytest.fixture
def private(session, op):
    """A private residential garage, a public point beside it, and a missing id's answer."""
    garage, cp = point(session, op, north(1), visibility="private")
    public = point(session, op, north(2))[1]
    session.commit()
    return garage, cp, public


def missing_body(client):
    return client.get("/charge-points/999999").json


def test_private_point_is_invisible_to_anonymous_callers(client, private):
    _, cp, public = private
    assert ids(search(client)) == [public.id]
    r = client.get(f"/charge-points/{cp.id}")
    assert r.status_code == 404
    assert r.json == missing_body(client)


def test_private_point_is_invisible_to_a_driver_without_membership(client, session, private):
    _, cp, public = private
    driver = f.user(session)
    session.commit()
    h = f.login(client, driver)
    assert ids(search(client, h)) == [public.id]
    r = client.get(f"/charge-points/{cp.id}", headers=h)
    assert r.status_code == 404 and r.json == missing_body(client)


def test_member_of_another_operator_does_not_see_it(client, session, private):
    _, cp, public = private
    beta = f.operator(session, "Beta")
    beta_garage, beta_cp = point(session, beta, north(3), visibility="private")
    driver = f.user(session)
    f.membership(session, driver, beta, [beta_garage])
    session.commit()
    h = f.login(client, driver)
    assert ids(search(client, h)) == [public.id, beta_cp.id]
    assert client.get(f"/charge-points/{cp.id}", headers=h).status_code == 404


def test_member_sees_the_private_point_at_the_company_price(client, session, op, private):
    garage, cp, public = private
    driver = f.user(session)
    f.membership(session, driver, op, [garage])
    session.commit()
    h = f.login(client, driver)

    r = search(client, h)
    assert ids(r) == [cp.id, public.id]
    mine, open_point = r.json
    assert mine["member"] is True
    assert mine["price_group"] == {"id": op.company.id, "name": "Company", "kind": "company"}
    assert mine["site"]["visibility"] == "private"
    # The membership covers the garage only: at the public point the public group applies.
    assert open_point["member"] is False and open_point["price_group"]["kind"] == "public"
    assert client.get(f"/charge-points/{cp.id}", headers=h).json["member"] is True
    assert ids(search(client, h, price_group_id=op.company.id)) == [cp.id]
    assert ids(search(client, h, price_group_id=op.public.id)) == [public.id]


def test_temporary_membership_stops_showing_the_point_when_it_ends(
    client, session, op, private, clock
):
    garage, cp, _ = private
    guest = f.user(session)
    f.membership(session, guest, op, [garage], ends_at=clock() + timedelta(hours=2))
    session.commit()
    h = f.login(client, guest)
    assert cp.id in ids(search(client, h))

    clock.advance(hours=2)  # ends_at is exclusive
    h = f.login(client, guest)
    assert cp.id not in ids(search(client, h))
    assert client.get(f"/charge-points/{cp.id}", headers=h).status_code == 404


@pytest.mark.parametrize(
    "window",
    [
        {"ends_at": -timedelta(days=1)},  # expired yesterday
        {"revoked_at": -timedelta(minutes=1)},  # revoked by the operator
        {"starts_at": timedelta(days=1)},  # a guest code for tomorrow
    ],
)
def test_inactive_memberships_give_no_access(client, session, op, private, clock, window):
    garage, cp, _ = private
    driver = f.user(session)
    f.membership(session, driver, op, [garage], **{k: clock() + v for k, v in window.items()})
    session.commit()
    h = f.login(client, driver)
    assert cp.id not in ids(search(client, h))
    assert client.get(f"/charge-points/{cp.id}", headers=h).status_code == 404


def test_semi_public_point_prices_members_and_the_public_differently(client, session, op):
    campus, cp = point(session, op, north(1), visibility="semi_public")
    employee, visitor = f.user(session), f.user(session)
    f.membership(session, employee, op, [campus])
    session.commit()

    anonymous = search(client).json[0]
    assert anonymous["id"] == cp.id and anonymous["member"] is False
    public = search(client, f.login(client, visitor)).json[0]
    assert public["price_group"]["id"] == op.public.id and public["member"] is False
    company = search(client, f.login(client, employee)).json[0]
    assert company["price_group"]["id"] == op.company.id and company["member"] is True


def test_operator_staff_see_their_own_private_points_only(client, session, op, private):
    _, cp, public = private
    beta = f.operator(session, "Beta")
    beta_cp = point(session, beta, north(3), visibility="private")[1]
    staff = f.user(session, Role.OPERATOR_STAFF, operator_id=op.operator.id)
    admin = f.user(session, Role.PLATFORM_ADMIN)
    session.commit()

    h = f.login(client, staff)
    assert ids(search(client, h)) == [cp.id, public.id]
    assert client.get(f"/charge-points/{beta_cp.id}", headers=h).status_code == 404
    a = f.login(client, admin)
    assert ids(search(client, a)) == [cp.id, public.id, beta_cp.id]
    assert client.get(f"/charge-points/{beta_cp.id}", headers=a).status_code == 200


# --- invalid input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": 200}, "lat"),
        ({"lon": -180.5}, "lon"),
        ({"lat": "nan"}, "lat"),
        ({"radius_km": -1}, "radius_km"),
        ({"radius_km": 0}, "radius_km"),
        ({"radius_km": 101}, "radius_km"),
        ({"page": 0}, "page"),
        ({"page_size": 101}, "page_size"),
        ({"plug_type": "foo"}, "plug_type"),
        ({"min_power_kw": "abc"}, "min_power_kw"),
        ({"min_power_kw": "NaN"}, "min_power_kw"),
        ({"operator_id": 2**40}, "operator_id"),
        ({"available_now": "perhaps"}, "available_now"),
    ],
)
def test_invalid_search_parameters_are_422_in_the_error_shape(client, params, field):
    query = {"lat": CENTRE[0], "lon": CENTRE[1], **params}
    r = client.get("/charge-points", query_string=query)
    assert r.status_code == 422
    assert set(r.json) == {"code", "status", "message", "errors"}
    assert field in r.json["errors"]


def test_search_needs_a_place(client):
    r = client.get("/charge-points", query_string={"lat": CENTRE[0]})
    assert r.status_code == 422 and "lon" in r.json["errors"]


def test_details_refuse_half_a_place_and_never_fail_on_huge_ids(client):
    r = client.get("/charge-points/1", query_string={"lat": 52})
    assert r.status_code == 422 and "lon" in r.json["errors"]
    r = client.get(f"/charge-points/{2**63}")
    assert r.status_code == 404 and r.json["code"] == "not_found"


def test_the_embedded_sqlite_default_searches_the_same_way(tmp_path, clock):
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    upgrade(url)
    app = create_app(Settings.from_env(database_url=url, secret_key="s" * 40))
    with app.extensions["wattpass"].session_factory() as s:
        setup = f.operator(s)
        far = point(s, setup, north(3), plug="ccs2", power_w=50000)[1]
        near = point(s, setup, north(1))[1]
        beyond = point(s, setup, north(6))[1]
        garage, hidden = point(s, setup, north(0.5), visibility="private")
        driver = f.user(s)
        f.membership(s, driver, setup, [garage])
        s.commit()
    client = app.test_client()
    r = search(client)
    assert ids(r) == [near.id, far.id]
    assert 2990 <= r.json[1]["distance_m"] <= 3010
    assert ids(search(client, min_power_kw="50")) == [far.id]
    with app.extensions["wattpass"].session_factory() as s:  # summarised: same answers
        for site_id in s.scalars(select(Site.id)):
            catalogue_summary.refresh_site(s, site_id)
        s.commit()
        assert s.scalar(select(Site.connector_bits).where(Site.id == far.site_id))
    assert ids(search(client, min_power_kw="50")) == [far.id]
    assert ids(search(client, plug_type="ccs2", min_power_kw="22")) == [far.id]
    assert ids(search(client, plug_type="type2", min_power_kw="50")) == []
    assert ids(search(client, plug_type="type2")) == [near.id]
    assert ids(search(client, radius_km=20, page=2, page_size=2)) == [beyond.id]
    assert client.get(f"/charge-points/{hidden.id}").status_code == 404
    h = f.login(client, driver)
    assert ids(search(client, h)) == [hidden.id, near.id, far.id]
    assert client.put(f"/me/favourites/{hidden.id}", headers=h).status_code == 204
    assert [i["id"] for i in client.get("/me/favourites", headers=h).json] == [hidden.id]
    app.extensions["wattpass"].close()


def test_per_site_access_agrees_with_the_lists(session, op, clock):
    """visibility.site_access (for later use cases, e.g. starting a session) applies the
    same rules as the catalogue's SQL: visibility, membership window, price group."""
    garage = f.site(session, op, visibility="private")
    campus = f.site(session, op, visibility="semi_public")
    member, stranger = f.user(session), f.user(session)
    f.membership(session, member, op, [garage, campus], ends_at=clock() + timedelta(hours=1))
    staff = f.user(session, Role.OPERATOR_STAFF, operator_id=op.operator.id)
    other_staff = f.user(session, Role.OPERATOR_STAFF, operator_id=f.operator(session).operator.id)
    session.commit()

    def access(u, st):
        viewer = Viewer(u.id, u.role, u.operator_id) if u else Viewer()
        return site_access(session, viewer, st.id, clock())

    assert access(member, garage).price_group_id == op.company.id
    assert access(member, garage).member is True
    assert access(member, campus).price_group_id == op.company.id
    assert access(stranger, campus).price_group_id == op.public.id
    assert access(stranger, campus).member is False
    assert access(stranger, garage) is None and access(None, garage) is None
    assert access(staff, garage) is not None and access(other_staff, garage) is None
    with pytest.raises(NotFound):
        require_site_access(session, Viewer(stranger.id, "driver"), garage.id, clock())
    clock.advance(hours=1)
    assert access(member, garage) is None
    assert access(member, campus).price_group_id == op.public.id


@pytest.mark.parametrize("total", [0, 1, 19, 20, 21, 1000])
def test_x_pagination_has_flask_smorests_keys_plus_total_exact(total):
    """The catalogue builds X-Pagination itself (faster); clients must not notice."""

    class Params:
        item_count, total_exact = total, total < 1000

    for size, page in itertools.product((1, 7, 20, 100), (1, 2, 3, 60)):
        Params.page, Params.page_size = page, size
        _, headers = catalogue_api.blp._set_pagination_metadata(Params, None, None)
        meta = json.loads(headers["X-Pagination"])
        assert meta.pop("total_exact") is (total < 1000)
        assert meta == PaginationMixin._make_pagination_metadata(page, size, total)
