"""Who may see whose data, over every endpoint that takes an owned resource.

Part 2 of the authorization matrix (part 1, test_authorization_matrix.py, is the role
gate). The world (tenants.py) is built through the public API: operators Xenon (X) and
Yttrium (Y) with the same things each (staff, price groups, a contract, a private and a
public site with a charge point each, prices, a supply connection with meter readings,
a company code, an RFID card); driver A redeemed X's code and driver B Y's; each starred
a private point; B holds a plan.

- Operator subtree: X's staff ask for Y's things, both as /operators/{Y}/... and as
  /operators/{X}/... with one of Y's ids in the path or in the body. The answer is
  exactly the one a missing id gets (404, or 403 where only platform admins may call at
  all), nothing of X's or Y's changes, and Y's own side doing the same request succeeds:
  the ids were real. Ids beyond the schema's range are 404 too, never a 500.
- Driver A vs driver B: memberships, favourites, plans, profile, password, tokens.
- Member vs non-member: Y's private charge point exists only for B, Y's staff and
  admins; to anyone else every endpoint answers as for a missing point.
- A guest code that expired (in the site's time zone) or was revoked closes the private
  point again and cannot be redeemed.

The owned-resource operations are read from /openapi.json: a new endpoint with an id in
its path, under /me, or taking a refresh token fails
`test_every_owned_resource_operation_is_in_the_matrix` until a check here covers it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from backend.db.models import ChargePoint
from backend.services.notification_events import SessionStarted
from tests.integration.tenants import (
    LAT,
    LON,
    MISSING,
    PASSWORD,
    Driver,
    Headers,
    Tenant,
    World,
    answer,
    bearer,
    build_world,
    favourites,
    login,
    memberships,
    ok,
    redeem,
    register,
    same_as_missing,
    search,
)

TOO_BIG = 2**40  # beyond the schema's 32-bit ids
NOT_VALID = "This code is not valid. Check it with whoever gave it to you."
NEVER_ISSUED = "ABCD-EFGH-JKMN"  # well formed; the alphabet has no 0/1, so never drawn


@pytest.fixture
def world(client, session) -> World:
    return build_world(client, session)


# --- operator subtree: X's staff against Y's things ---------------------------------------


def operator_ids_in(data: Any) -> Iterator[int]:
    """Every `operator_id` anywhere in a JSON answer."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "operator_id":
                yield value
            yield from operator_ids_in(value)
    elif isinstance(data, list):
        for value in data:
            yield from operator_ids_in(value)


@dataclass(frozen=True)
class OperatorCase:
    body: Callable[[Tenant], dict[str, Any]] | None = None
    query: str = ""
    etag_of: str | None = None  # the GET whose ETag the change sends back as If-Match
    owner_status: int = 200
    admin_only: bool = False  # platform admins only: X's staff are refused by role (403)


def new_cp(t: Tenant) -> dict[str, Any]:
    return {
        "ocpp_identity": f"{t.name}-new",
        "connectors": [{"connector_id": 1, "plug_type": "ccs2", "max_power_kw": "50"}],
    }


OPS = "/operators/{operator_id}"
SITE = OPS + "/sites/{site_id}"
CP = OPS + "/charge-points/{charge_point_id}"
CODE = OPS + "/codes/{code_id}"
TOKEN = OPS + "/rfid-tokens/{token_id}"

OPERATOR_CASES: dict[str, OperatorCase] = {
    f"GET {OPS}": OperatorCase(),
    f"PATCH {OPS}": OperatorCase(body=lambda t: {"phone": "+48 600 100 200"}, admin_only=True),
    f"GET {OPS}/staff": OperatorCase(),
    f"GET {OPS}/sessions": OperatorCase(),
    f"POST {OPS}/staff": OperatorCase(
        body=lambda t: {"email": f"new@{t.name.lower()}.example.com", "password": PASSWORD},
        owner_status=201,
    ),
    f"GET {OPS}/contracts": OperatorCase(),
    f"POST {OPS}/contracts": OperatorCase(
        body=lambda t: {"business_case": "SEMI", "valid_from": "2027-01-01"},
        owner_status=201,
        admin_only=True,
    ),
    f"GET {OPS}/price-groups": OperatorCase(),
    f"POST {OPS}/price-groups": OperatorCase(
        body=lambda t: {"name": f"{t.name} VIP", "kind": "company"}, owner_status=201
    ),
    f"GET {OPS}/sites": OperatorCase(),
    f"POST {OPS}/sites": OperatorCase(
        body=lambda t: {
            "name": f"{t.name} new",
            "country": "PL",
            "latitude": LAT,
            "longitude": LON,
            "visibility": "public",
        },
        owner_status=201,
    ),
    f"GET {SITE}": OperatorCase(),
    f"PATCH {SITE}": OperatorCase(body=lambda t: {"name": "Renamed"}, etag_of=SITE),
    f"GET {SITE}/charge-points": OperatorCase(),
    f"POST {SITE}/charge-points": OperatorCase(body=new_cp, owner_status=201),
    f"GET {CP}": OperatorCase(),
    f"PATCH {CP}": OperatorCase(body=lambda t: {"vendor": "Changed"}),
    f"POST {CP}/rotate-password": OperatorCase(),
    f"GET {SITE}/prices": OperatorCase(),
    f"PUT {SITE}/prices/{{price_group_id}}": OperatorCase(
        body=lambda t: {"model": "fixed", "energy_per_kwh": "0.01"}, etag_of=SITE + "/prices"
    ),
    f"GET {SITE}/supply": OperatorCase(),
    f"PUT {SITE}/supply": OperatorCase(
        body=lambda t: {
            "voltage_kv": "0.4",
            "contracted_kw": "22",
            "fuse_a": "40",
            "invoice_form": "paper",
        }
    ),
    f"GET {SITE}/meter-readings": OperatorCase(),
    f"POST {SITE}/meter-readings": OperatorCase(
        body=lambda t: {"read_on": "2026-12-01", "register_kwh": "99999"}, owner_status=201
    ),
    f"GET {SITE}/supply-cost": OperatorCase(query="?from=2026-10-01&to=2026-11-01"),
    f"GET {OPS}/codes": OperatorCase(),
    f"POST {OPS}/codes": OperatorCase(
        body=lambda t: {
            "kind": "permanent",
            "site_ids": [t.private_site_id],
            "price_group_id": t.company_id,
        },
        owner_status=201,
    ),
    f"GET {CODE}": OperatorCase(),
    f"POST {CODE}/revoke": OperatorCase(),
    f"GET {OPS}/rfid-tokens": OperatorCase(),
    f"POST {OPS}/rfid-tokens": OperatorCase(
        body=lambda t: {"id_tag": f"{t.name}-2", "price_group_id": t.company_id},
        owner_status=201,
    ),
    f"GET {TOKEN}": OperatorCase(),
    f"POST {TOKEN}/block": OperatorCase(),
    f"POST {TOKEN}/unblock": OperatorCase(),
    f"GET {OPS}/statements": OperatorCase(query="?period=2026-11"),
    f"GET {OPS}/settlements": OperatorCase(),
    f"POST {OPS}/settlements": OperatorCase(
        body=lambda t: {"period": "2026-10"}, owner_status=201, admin_only=True
    ),
    f"GET {OPS}/payouts": OperatorCase(),
    "PUT /admin/operators/{operator_id}/payout-account": OperatorCase(
        body=lambda t: {"stripe_account_id": f"acct_1{t.name}"}, admin_only=True
    ),
}


def params_of(path: str) -> list[str]:
    return re.findall(r"{([^}]+)}", path)


def snapshot(client, w: World) -> dict[str, Any]:
    """All that either operator has, as a platform admin reads it, plus the drivers'
    memberships and the chargers' OCPP passwords (kept only as hashes)."""
    seen: dict[str, Any] = {}
    for t in (w.x, w.y):
        ids = t.ids()
        for path in (
            OPS,
            OPS + "/staff",
            OPS + "/contracts",
            OPS + "/price-groups",
            OPS + "/sites",
            SITE,
            SITE + "/charge-points",
            CP,
            SITE + "/prices",
            SITE + "/supply",
            SITE + "/meter-readings",
            OPS + "/codes",
            CODE,
            OPS + "/rfid-tokens",
            TOKEN,
        ):
            url = path.format(**ids)
            r = client.get(url, headers=w.admin)
            seen[url] = (*answer(r), r.headers.get("ETag"))
    for d in (w.a, w.b):
        seen[d.email] = memberships(client, d)
    return seen


def password_hashes(session) -> dict[int, str]:
    session.expire_all()
    return dict(session.execute(select(ChargePoint.id, ChargePoint.password_hash)).all())


def attacks(path: str, w: World) -> Iterator[tuple[str, dict[str, int], dict[str, int], Tenant]]:
    """(what, ids, the same ids with the foreign one missing, whose path) for X's staff."""
    theirs = w.y.ids()
    yield "Y's operator", theirs, {**theirs, "operator_id": MISSING}, w.y
    for param in params_of(path)[1:]:
        mine = w.x.ids()
        yield f"Y's {param} under X", {**mine, param: theirs[param]}, {**mine, param: MISSING}, w.x


@pytest.mark.parametrize("operation", sorted(OPERATOR_CASES))
def test_operator_staff_cannot_reach_another_operators_subtree(client, session, world, operation):
    w, case = world, OPERATOR_CASES[operation]
    method, path = operation.split(" ", 1)
    before, hashes = snapshot(client, w), password_hashes(session)

    expected = 403 if case.admin_only else 404
    for what, ids, missing_ids, path_owner in attacks(path, w):
        kw: dict[str, Any] = {"headers": dict(w.x.staff)}
        if case.body:
            kw["json"] = case.body(path_owner)
        if case.etag_of:
            # The attacker holds the real ETag (as if it had leaked): still nothing.
            owner = w.site_owner(ids["site_id"])
            real = case.etag_of.format(**{**ids, "operator_id": owner.operator_id})
            kw["headers"]["If-Match"] = client.get(real, headers=w.admin).headers["ETag"]
        url = path.format(**ids) + case.query
        r = client.open(url, method=method, **kw)
        missing = client.open(path.format(**missing_ids) + case.query, method=method, **kw)
        assert r.status_code == expected, (what, url, answer(r))
        assert answer(r) == answer(missing), (what, url)

    assert snapshot(client, w) == before, "X's staff changed something"
    assert password_hashes(session) == hashes, "X's staff rotated a charger's password"

    # An id beyond the schema's range names nothing either: 404 even for an admin, whom
    # no scope stops before the lookups (never a 500 from the database).
    for param in params_of(path):
        headers = dict(w.admin)
        if case.etag_of:
            headers["If-Match"] = client.get(
                case.etag_of.format(**w.y.ids()), headers=w.admin
            ).headers["ETag"]
        url = path.format(**{**w.y.ids(), param: TOO_BIG}) + case.query
        body = case.body(w.y) if case.body else None
        r = client.open(url, method=method, json=body, headers=headers)
        assert r.status_code == 404, (url, answer(r))

    # Y's side asking the very same succeeds: the ids were real and the request valid.
    owner_headers = dict(w.admin if case.admin_only else w.y.staff)
    if case.etag_of:
        owner_headers["If-Match"] = client.get(
            case.etag_of.format(**w.y.ids()), headers=w.admin
        ).headers["ETag"]
    r = client.open(
        path.format(**w.y.ids()) + case.query,
        method=method,
        json=case.body(w.y) if case.body else None,
        headers=owner_headers,
    )
    assert r.status_code == case.owner_status, answer(r)


GET_OWN = sorted(op for op in OPERATOR_CASES if op.startswith("GET "))


@pytest.mark.parametrize("operation", GET_OWN)
def test_operator_staff_read_only_their_own_operator(client, world, operation):
    """X's staff reading their own things see nothing of Y's."""
    w = world
    path = operation.split(" ", 1)[1]
    r = client.get(path.format(**w.x.ids()) + OPERATOR_CASES[operation].query, headers=w.x.staff)
    body = ok(r)
    assert w.y.name.lower() not in r.get_data(as_text=True).lower()
    assert set(operator_ids_in(body)) <= {w.x.operator_id}


def test_operator_list_shows_staff_only_their_own(client, world):
    w = world
    assert [o["id"] for o in ok(client.get("/operators", headers=w.x.staff))] == [w.x.operator_id]
    everyone = {o["id"] for o in ok(client.get("/operators", headers=w.admin))}
    assert everyone == {w.x.operator_id, w.y.operator_id}


# Ids that a request body names: another operator's must get the answer a missing id gets
# (422 naming the field; the id itself is echoed back, so it is swapped before comparing).
BodyRef = tuple[str, str, Callable[[Tenant, int], dict[str, Any]], Callable[[Tenant], int]]
BODY_REFERENCES: dict[str, BodyRef] = {
    "code for Y's site": (
        "POST",
        OPS + "/codes",
        lambda mine, ref: {
            "kind": "permanent",
            "site_ids": [ref],
            "price_group_id": mine.company_id,
        },
        lambda theirs: theirs.private_site_id,
    ),
    "code in Y's price group": (
        "POST",
        OPS + "/codes",
        lambda mine, ref: {
            "kind": "permanent",
            "site_ids": [mine.private_site_id],
            "price_group_id": ref,
        },
        lambda theirs: theirs.company_id,
    ),
    "card in Y's price group": (
        "POST",
        OPS + "/rfid-tokens",
        lambda mine, ref: {"id_tag": "XENON-9", "price_group_id": ref},
        lambda theirs: theirs.company_id,
    ),
    "site priced in Y's group": (
        "POST",
        OPS + "/sites",
        lambda mine, ref: {
            "name": "Borrowed group",
            "country": "PL",
            "latitude": LAT,
            "longitude": LON,
            "visibility": "public",
            "default_price_group_id": ref,
        },
        lambda theirs: theirs.public_id,
    ),
    "site moved to Y's group": (
        "PATCH",
        SITE,
        lambda mine, ref: {"default_price_group_id": ref},
        lambda theirs: theirs.public_id,
    ),
}


@pytest.mark.parametrize("what", sorted(BODY_REFERENCES))
def test_bodies_cannot_name_another_operators_things(client, world, what):
    w = world
    method, path, body, foreign = BODY_REFERENCES[what]
    before = snapshot(client, w)
    url = path.format(**w.x.ids())
    headers = dict(w.x.staff)
    if method == "PATCH":
        headers["If-Match"] = client.get(url, headers=w.x.staff).headers["ETag"]
    theirs = foreign(w.y)
    r = client.open(url, method=method, json=body(w.x, theirs), headers=headers)
    missing = client.open(url, method=method, json=body(w.x, MISSING), headers=headers)
    assert r.status_code == 422, answer(r)
    echoed = json.dumps(missing.json).replace(str(MISSING), str(theirs))
    assert json.dumps(r.json) == echoed
    assert snapshot(client, w) == before
    # The same body naming X's own resource is accepted: the 422 was about Y's id.
    mine = foreign(w.x)
    assert client.open(url, method=method, json=body(w.x, mine), headers=headers).status_code in (
        200,
        201,
    )


# --- driver A vs driver B, member vs non-member ----------------------------------------------

# One check per operation; each may cover several operations of one path.
CHECKS: dict[str, Callable[[Any, World], None]] = {}


def covers(
    *operations: str,
) -> Callable[[Callable[[Any, World], None]], Callable[[Any, World], None]]:
    def register_check(check: Callable[[Any, World], None]) -> Callable[[Any, World], None]:
        for operation in operations:
            assert operation not in CHECKS, operation
            CHECKS[operation] = check
        return check

    return register_check


def strangers(w: World) -> dict[str, Headers]:
    """Everyone who must not see Y's private point: Y's site exists only for B, Y's staff
    and platform admins."""
    return {"anonymous": {}, "driver A": w.a.headers, "X's staff": w.x.staff}


@covers("GET /charge-points")
def check_search(client, w: World) -> None:
    x, y = w.x, w.y
    public = {x.public_cp_id, y.public_cp_id}
    assert set(search(client)) == public
    assert set(search(client, w.a.headers)) == public | {x.private_cp_id}
    assert set(search(client, w.b.headers)) == public | {y.private_cp_id}
    assert set(search(client, x.staff)) == public | {x.private_cp_id}
    assert set(search(client, y.staff)) == public | {y.private_cp_id}
    assert set(search(client, w.admin)) == public | {x.private_cp_id, y.private_cp_id}
    # Filters do not open anything either.
    assert set(search(client, w.a.headers, operator_id=y.operator_id)) == {y.public_cp_id}
    assert search(client, w.a.headers, price_group_id=y.company_id) == {}
    assert set(search(client, w.b.headers, price_group_id=y.company_id)) == {y.private_cp_id}
    # B sees its price group at Y's private point, the public one elsewhere.
    items = search(client, w.b.headers)
    assert items[y.private_cp_id]["member"] is True
    assert items[y.private_cp_id]["price_group"]["id"] == y.company_id
    assert (items[y.public_cp_id]["member"], items[y.public_cp_id]["price_group"]["id"]) == (
        False,
        y.public_id,
    )


@covers("GET /charge-points/{charge_point_id}")
def check_charge_point(client, w: World) -> None:
    y = w.y
    for who, headers in strangers(w).items():
        url, missing = f"/charge-points/{y.private_cp_id}", f"/charge-points/{MISSING}"
        same_as_missing(client, "GET", url, missing, headers=headers, who=who)
        assert ok(client.get(f"/charge-points/{y.public_cp_id}", headers=headers))["id"]
    mine = ok(client.get(f"/charge-points/{y.private_cp_id}", headers=w.b.headers))
    assert mine["member"] is True and mine["price_group"]["id"] == y.company_id
    assert ok(client.get(f"/charge-points/{y.private_cp_id}", headers=y.staff))["id"]
    assert ok(client.get(f"/charge-points/{w.x.private_cp_id}", headers=w.a.headers))["member"]


@covers("GET /charge-points/{charge_point_id}/price")
def check_price(client, w: World) -> None:
    y = w.y
    for who, headers in strangers(w).items():
        url, missing = f"/charge-points/{y.private_cp_id}/price", f"/charge-points/{MISSING}/price"
        same_as_missing(client, "GET", url, missing, headers=headers, who=who)
    mine = ok(client.get(f"/charge-points/{y.private_cp_id}/price", headers=w.b.headers))
    assert (mine["member"], mine["price_group"]["id"], mine["energy_per_kwh"]) == (
        True,
        y.company_id,
        "1.20",
    )
    public = ok(client.get(f"/charge-points/{y.public_cp_id}/price", headers=w.a.headers))
    assert (public["member"], public["price_group"]["id"], public["energy_per_kwh"]) == (
        False,
        y.public_id,
        "2.20",
    )


@covers("GET /charge-points/{charge_point_id}/price-preview")
def check_preview(client, w: World) -> None:
    y = w.y
    query = "/price-preview?kwh=10"
    for who, headers in strangers(w).items():
        url, missing = (
            f"/charge-points/{y.private_cp_id}{query}",
            f"/charge-points/{MISSING}{query}",
        )
        same_as_missing(client, "GET", url, missing, headers=headers, who=who)
    mine = ok(client.get(f"/charge-points/{y.private_cp_id}{query}", headers=w.b.headers))
    assert (mine["gross"], mine["quote"]["price_group"]["id"]) == ("12.00", y.company_id)
    public = ok(client.get(f"/charge-points/{y.public_cp_id}{query}", headers=w.a.headers))
    assert public["gross"] == "22.00"


@covers("GET /sites/{site_id}/tariffs/ocpi")
def check_ocpi(client, w: World) -> None:
    y = w.y
    # Roaming partners see what an anonymous caller sees: a private site's tariffs are
    # not published at all, not even to its members (they get theirs from /price).
    for who, headers in {**strangers(w), "member B": w.b.headers}.items():
        url, missing = f"/sites/{y.private_site_id}/tariffs/ocpi", f"/sites/{MISSING}/tariffs/ocpi"
        same_as_missing(client, "GET", url, missing, headers=headers, who=who)
    tariffs = ok(client.get(f"/sites/{y.public_site_id}/tariffs/ocpi"))["data"]
    assert len(tariffs) == 2  # the public site's two groups: the site exists and has prices


def test_uncommissioned_point_is_hidden_like_a_missing_one(client, world):
    """Drivers see a charge point only once it is commissioned; until then no endpoint
    may tell that it exists, whoever asks."""
    w, y = world, world.y
    cp = {
        "ocpp_identity": "YTTRIUM-NOT-YET",
        "connectors": [{"connector_id": 1, "plug_type": "type2", "max_power_kw": "11"}],
    }
    url = f"/operators/{y.operator_id}/sites/{y.public_site_id}/charge-points"
    hidden = ok(client.post(url, json=cp, headers=y.staff), 201)["id"]
    callers = {**strangers(w), "member B": w.b.headers, "Y's staff": y.staff}
    for who, headers in callers.items():
        assert hidden not in search(client, headers), who
        for suffix in ("", "/price", "/price-preview?kwh=10"):
            real, missing = f"/charge-points/{hidden}{suffix}", f"/charge-points/{MISSING}{suffix}"
            same_as_missing(client, "GET", real, missing, headers=headers, who=who)
    same_as_missing(
        client, "PUT", f"/me/favourites/{hidden}", f"/me/favourites/{MISSING}", headers=w.b.headers
    )
    # Commissioned, it is there for everyone at once (the site is public).
    patch = f"/operators/{y.operator_id}/charge-points/{hidden}"
    ok(client.patch(patch, json={"commissioned": True}, headers=y.staff))
    for who, headers in callers.items():
        price = ok(client.get(f"/charge-points/{hidden}/price", headers=headers))
        assert price["charge_point_id"] == hidden, who


@covers("GET /me/favourites")
def check_favourites(client, w: World) -> None:
    assert favourites(client, w.a) == [w.x.private_cp_id]
    assert favourites(client, w.b) == [w.y.private_cp_id]


@covers("PUT /me/favourites/{charge_point_id}")
def check_star(client, w: World) -> None:
    url, missing = f"/me/favourites/{w.y.private_cp_id}", f"/me/favourites/{MISSING}"
    same_as_missing(client, "PUT", url, missing, headers=w.a.headers)
    assert favourites(client, w.a) == [w.x.private_cp_id]
    ok(client.put(f"/me/favourites/{w.y.public_cp_id}", headers=w.a.headers), 204)
    assert set(favourites(client, w.a)) == {w.y.public_cp_id, w.x.private_cp_id}
    assert favourites(client, w.b) == [w.y.private_cp_id]


@covers("DELETE /me/favourites/{charge_point_id}")
def check_unstar(client, w: World) -> None:
    # Unstarring is idempotent, so it answers 204 whatever the id: no oracle either.
    url, missing = f"/me/favourites/{w.y.private_cp_id}", f"/me/favourites/{MISSING}"
    same_as_missing(client, "DELETE", url, missing, status=204, headers=w.a.headers)
    assert favourites(client, w.b) == [w.y.private_cp_id]
    ok(client.delete(f"/me/favourites/{w.x.private_cp_id}", headers=w.a.headers), 204)
    assert favourites(client, w.a) == []
    assert favourites(client, w.b) == [w.y.private_cp_id]


@covers("GET /me/memberships")
def check_memberships(client, w: World) -> None:
    for driver, mid, t in ((w.a, w.a_membership_id, w.x), (w.b, w.b_membership_id, w.y)):
        listed = ok(client.get("/me/memberships", headers=driver.headers))
        assert [(m["id"], m["operator"]["id"]) for m in listed] == [(mid, t.operator_id)]
        assert memberships(client, driver) == [(mid, "active")]


@covers("POST /me/memberships")
def check_redeem(client, w: World) -> None:
    # A redeems the code B redeemed: A gets a membership of its own, B's stays as it was.
    mine = ok(redeem(client, w.a, w.y.code), 201)
    assert mine["id"] not in (w.a_membership_id, w.b_membership_id)
    assert memberships(client, w.b) == [(w.b_membership_id, "active")]
    assert {m for m, _ in memberships(client, w.a)} == {w.a_membership_id, mine["id"]}


@covers("GET /me/memberships/{membership_id}", "DELETE /me/memberships/{membership_id}")
def check_membership(client, w: World) -> None:
    url, missing = f"/me/memberships/{w.b_membership_id}", f"/me/memberships/{MISSING}"
    same_as_missing(client, "GET", url, missing, headers=w.a.headers)
    same_as_missing(client, "DELETE", url, missing, headers=w.a.headers)
    # B's membership is untouched and still opens Y's private point.
    assert ok(client.get(url, headers=w.b.headers))["status"] == "active"
    ok(client.get(f"/charge-points/{w.y.private_cp_id}", headers=w.b.headers))
    ok(client.delete(url, headers=w.b.headers), 204)
    assert memberships(client, w.b) == [(w.b_membership_id, "ended")]
    assert memberships(client, w.a) == [(w.a_membership_id, "active")]


@covers("GET /me/plans", "POST /me/plans")
def check_plans(client, w: World) -> None:
    assert ok(client.get("/me/plans", headers=w.a.headers)) == []
    b_plans = ok(client.get("/me/plans", headers=w.b.headers))
    assert [p["plan"]["code"] for p in b_plans] == ["pay-per-use"]
    choice = {"plan_code": "pay-per-use", "accept_terms": True}
    ok(client.post("/me/plans", json=choice, headers=w.a.headers))
    assert [p["plan"]["code"] for p in ok(client.get("/me/plans", headers=w.a.headers))] == [
        "pay-per-use"
    ]
    assert ok(client.get("/me/plans", headers=w.b.headers)) == b_plans


@covers("GET /auth/me", "PATCH /auth/me")
def check_profile(client, w: World) -> None:
    def me(d: Driver, query: str = "") -> dict[str, Any]:
        return ok(client.get(f"/auth/me{query}", headers=d.headers))

    assert (me(w.a)["id"], me(w.a)["email"]) == (w.a.id, w.a.email)
    assert me(w.a, f"?id={w.b.id}")["id"] == w.a.id  # the token decides, not the query
    b_before = me(w.b)
    assert b_before["full_name"] == "Driver Bob"
    # A profile change has no field that names another account.
    for body in ({"id": w.b.id, "full_name": "Hijack"}, {"email": w.b.email}):
        r = client.patch("/auth/me", json=body, headers=w.a.headers)
        assert r.status_code == 422, answer(r)
    changed = ok(client.patch("/auth/me", json={"full_name": "Alice A."}, headers=w.a.headers))
    assert (changed["id"], changed["full_name"]) == (w.a.id, "Alice A.")
    assert me(w.b) == b_before


def refresh(client, token: str):
    return client.post("/auth/refresh", json={"refresh_token": token})


@covers("POST /auth/me/password")
def check_password(client, w: World) -> None:
    body = {"current_password": PASSWORD, "new_password": "alice-new-password"}
    ok(client.post("/auth/me/password", json=body, headers=w.a.headers), 204)
    assert refresh(client, w.a.refresh_token).status_code == 401  # A's logins ended
    ok(refresh(client, w.b.refresh_token))  # B's did not
    login(client, w.b.email)
    login(client, w.a.email, "alice-new-password")
    r = client.post("/auth/login", json={"email": w.a.email, "password": PASSWORD})
    assert r.status_code == 401


@covers("POST /auth/refresh")
def check_refresh(client, w: World) -> None:
    pair = ok(refresh(client, w.a.refresh_token))
    assert ok(client.get("/auth/me", headers=bearer(pair["access_token"])))["id"] == w.a.id
    # Replaying A's rotated token ends A's token family, and only A's.
    assert refresh(client, w.a.refresh_token).status_code == 401
    assert refresh(client, pair["refresh_token"]).status_code == 401
    b_pair = ok(refresh(client, w.b.refresh_token))
    assert ok(client.get("/auth/me", headers=bearer(b_pair["access_token"])))["id"] == w.b.id


@covers("POST /auth/logout")
def check_logout(client, w: World) -> None:
    ok(client.post("/auth/logout", json={"refresh_token": w.a.refresh_token}), 204)
    assert refresh(client, w.a.refresh_token).status_code == 401
    ok(refresh(client, w.b.refresh_token))


def notify(client, driver: Driver, site_name: str) -> int:
    """A notification in the driver's inbox, as the platform sends one (no endpoint does)."""
    c = client.application.extensions["wattpass"]
    with c.session_factory() as s:
        note = c.notifications.notify(s, driver.id, SessionStarted(1, site_name))
        assert note is not None
        return int(note.id)


def add_device(client, driver: Driver, token: str, status: int = 201) -> int:
    body = {"token": token, "platform": "android"}
    return int(ok(client.post("/me/devices", json=body, headers=driver.headers), status)["id"])


@covers("GET /me/devices", "POST /me/devices", "DELETE /me/devices/{device_id}")
def check_devices(client, w: World) -> None:
    def devices(d: Driver) -> list[tuple[int, str]]:
        return [(x["id"], x["token"]) for x in ok(client.get("/me/devices", headers=d.headers))]

    mine, theirs = (
        add_device(client, w.a, "token-of-alice"),
        add_device(client, w.b, "token-of-bob"),
    )
    assert devices(w.a) == [(mine, "token-of-alice")]
    assert devices(w.b) == [(theirs, "token-of-bob")]
    url, missing = f"/me/devices/{theirs}", f"/me/devices/{MISSING}"
    same_as_missing(client, "DELETE", url, missing, headers=w.a.headers)
    assert devices(w.b) == [(theirs, "token-of-bob")]
    ok(client.delete(url, headers=w.b.headers), 204)
    assert (devices(w.a), devices(w.b)) == ([(mine, "token-of-alice")], [])


@covers(
    "GET /me/notifications",
    "GET /me/notifications/unread-count",
    "POST /me/notifications/read-all",
    "POST /me/notifications/{notification_id}/read",
)
def check_notifications(client, w: World) -> None:
    def inbox(d: Driver) -> set[int]:
        return {n["id"] for n in ok(client.get("/me/notifications", headers=d.headers))}

    def unread(d: Driver) -> int:
        r = client.get("/me/notifications/unread-count", headers=d.headers)
        return int(ok(r)["unread"])

    mine = notify(client, w.a, "Xenon private")
    theirs = [notify(client, w.b, "Yttrium private"), notify(client, w.b, "Yttrium public")]
    assert (inbox(w.a), inbox(w.b)) == ({mine}, set(theirs))
    assert (unread(w.a), unread(w.b)) == (1, 2)
    url, missing = f"/me/notifications/{theirs[0]}/read", f"/me/notifications/{MISSING}/read"
    same_as_missing(client, "POST", url, missing, headers=w.a.headers)
    assert ok(client.post("/me/notifications/read-all", headers=w.a.headers)) == {"marked": 1}
    assert (unread(w.a), unread(w.b)) == (0, 2)
    assert ok(client.post(url, headers=w.b.headers))["read"] is True
    assert unread(w.b) == 1


@covers("GET /me/outbox")
def check_outbox(client, w: World) -> None:
    def outbox(d: Driver, query: str = "") -> list[tuple[int, str]]:
        r = client.get(f"/me/outbox{query}", headers=d.headers)
        return [(m["device_id"], m["body"]) for m in ok(r)]

    mine, theirs = (
        add_device(client, w.a, "token-of-alice"),
        add_device(client, w.b, "token-of-bob"),
    )
    notify(client, w.a, "Xenon private")
    notify(client, w.b, "Yttrium private")
    a_messages, b_messages = outbox(w.a), outbox(w.b)
    assert [device for device, _ in a_messages] == [mine]
    assert [device for device, _ in b_messages] == [theirs]
    assert outbox(w.a, f"?device_id={theirs}") == []  # naming B's device shows nothing
    # B's phone passes to A: what was sent to B stays B's alone (its device is gone).
    add_device(client, w.a, "token-of-bob")
    assert outbox(w.a) == a_messages
    assert outbox(w.b) == [(None, body) for _, body in b_messages]


def issue_receipt(client, driver: Driver, site_id: int, key: str) -> int:
    """A receipt of the driver's, as billing issues one (no endpoint does)."""
    from decimal import Decimal

    from backend.db.models import Site
    from backend.services import receipts

    c = client.application.extensions["wattpass"]
    line = {
        "kind": "energy",
        "quantity": "10.000",
        "unit": "kWh",
        "unit_price": "2.20",
        "amount_minor": 2200,
    }
    with c.session_factory() as s:
        draft = receipts.Draft(
            kind="receipt",
            source_key=key,
            driver_id=driver.id,
            site=s.get(Site, site_id),
            currency="PLN",
            vat_rate=Decimal("0.23"),
            lines=[line],
            sessions=[],
        )
        r = receipts.issue(s, receipts.Seller.from_settings(c.settings), draft, c.clock())
        s.commit()
        return int(r.id)


@covers("GET /me/receipts", "GET /me/receipts/{receipt_id}", "GET /me/receipts/{receipt_id}/pdf")
def check_receipts(client, w: World) -> None:
    mine = issue_receipt(client, w.a, w.x.public_site_id, "matrix:a")
    theirs = issue_receipt(client, w.b, w.y.public_site_id, "matrix:b")

    def listed(d: Driver) -> list[int]:
        return [r["id"] for r in ok(client.get("/me/receipts", headers=d.headers))]

    assert (listed(w.a), listed(w.b)) == ([mine], [theirs])
    for suffix in ("", "/pdf"):
        same_as_missing(
            client,
            "GET",
            f"/me/receipts/{theirs}{suffix}",
            f"/me/receipts/{MISSING}{suffix}",
            headers=w.a.headers,
        )
        assert client.get(f"/me/receipts/{theirs}{suffix}", headers=w.b.headers).status_code == 200
    assert ok(client.get(f"/me/receipts/{mine}", headers=w.a.headers))["gross"] == "22.00"


# --- charging sessions: a driver's own, started only where the driver may charge ----------


def session_of(client, driver: Driver, cp_id: int) -> tuple[int, int]:
    """(charging session, app start) of the driver's at the point, as the bridge and the
    start endpoint leave them (no charger is involved in these checks)."""
    from datetime import UTC, datetime

    from backend.db.models import ChargingSession, SessionStart
    from backend.services.session_access import app_id_tag

    c = client.application.extensions["wattpass"]
    with c.session_factory() as s:
        cp = s.get(ChargePoint, cp_id)
        tag = app_id_tag(s, driver.id)
        now = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
        row = ChargingSession(
            charge_point_id=cp_id, connector_id=1, ocpp_version="1.6", start_key=f"m-{driver.id}",
            id_tag=tag, auth_status="Accepted", driver_id=driver.id, currency="PLN",
            started_at=now, meter_start_wh=0, status="active", created_at=now, updated_at=now,
        )  # fmt: skip
        s.add(row)
        s.flush()
        start = SessionStart(
            driver_id=driver.id, site_id=cp.site_id, charge_point_id=cp_id, connector_id=1,
            id_tag=tag, billing_mode="per_session", status="started", session_id=row.id,
            created_at=now, updated_at=now,
        )  # fmt: skip
        s.add(start)
        s.commit()
        return row.id, start.id


@covers("POST /me/sessions")
def check_session_start(client, w: World) -> None:
    def body(cp_id: int) -> dict[str, int]:
        return {"charge_point_id": cp_id, "connector_id": 1}

    # A is no member of Y: Y's private point is a missing one, whatever follows.
    real = client.post("/me/sessions", json=body(w.y.private_cp_id), headers=w.a.headers)
    missing = client.post("/me/sessions", json=body(MISSING), headers=w.a.headers)
    assert real.status_code == 404 and answer(real) == answer(missing)
    # B is: the point exists for B (no charger connection here, so no start either).
    theirs = client.post("/me/sessions", json=body(w.y.private_cp_id), headers=w.b.headers)
    assert theirs.status_code not in (404, 201), answer(theirs)


@covers("GET /me/sessions", "GET /me/sessions/{session_id}", "POST /me/sessions/{session_id}/stop")
def check_sessions(client, w: World) -> None:
    mine, _ = session_of(client, w.a, w.x.public_cp_id)
    theirs, _ = session_of(client, w.b, w.y.private_cp_id)

    def listed(d: Driver) -> list[int]:
        return [x["id"] for x in ok(client.get("/me/sessions", headers=d.headers))]

    assert (listed(w.a), listed(w.b)) == ([mine], [theirs])
    for method, suffix in (("GET", ""), ("POST", "/stop")):
        same_as_missing(
            client,
            method,
            f"/me/sessions/{theirs}{suffix}",
            f"/me/sessions/{MISSING}{suffix}",
            headers=w.a.headers,
        )
    assert ok(client.get(f"/me/sessions/{theirs}", headers=w.b.headers))["id"] == theirs
    # B's own stop reaches the (absent) charger connection: not a 404.
    assert client.post(f"/me/sessions/{theirs}/stop", headers=w.b.headers).status_code == 503


@covers("GET /me/session-starts/{start_id}")
def check_session_starts(client, w: World) -> None:
    _, mine = session_of(client, w.a, w.x.public_cp_id)
    _, theirs = session_of(client, w.b, w.y.private_cp_id)
    same_as_missing(
        client, "GET", f"/me/session-starts/{theirs}", f"/me/session-starts/{MISSING}",
        headers=w.a.headers,
    )  # fmt: skip
    assert ok(client.get(f"/me/session-starts/{mine}", headers=w.a.headers))["id"] == mine
    assert ok(client.get(f"/me/session-starts/{theirs}", headers=w.b.headers))["id"] == theirs


PERIOD = SITE + "/periods/{period}"


@covers(f"GET {PERIOD}", f"POST {PERIOD}/close")
def check_coop_periods(client, w: World) -> None:
    """A variable-cost month (the {period} is no id, so checked here): X's staff closing
    or reading Y's site's month get exactly the answer for a missing operator or site,
    and close nothing; Y's staff close it and read it."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from backend.db.models import CoopPeriod, PriceVersion

    c = client.application.extensions["wattpass"]
    with c.session_factory() as s:
        for t in (w.x, w.y):  # both private sites are co-op sites priced by variable cost
            s.add(
                PriceVersion(
                    site_id=t.private_site_id, price_group_id=t.company_id, revision=99,
                    model="variable_cost", currency="PLN", vat_rate=Decimal("0.23"),
                    energy_per_kwh=Decimal(0), idle_per_minute=Decimal(0),
                    billing_mode="monthly", effective_from=datetime(2026, 1, 1, tzinfo=UTC),
                )
            )  # fmt: skip
        s.commit()

    def url(ids: dict[str, int], suffix: str = "") -> str:
        return PERIOD.format(**ids, period="2026-10") + suffix

    theirs = w.y.ids()
    for method, suffix in (("POST", "/close"), ("GET", "")):
        attacks = (
            (url(theirs, suffix), url({**theirs, "operator_id": MISSING}, suffix)),
            (
                url({**w.x.ids(), "site_id": theirs["site_id"]}, suffix),
                url({**w.x.ids(), "site_id": MISSING}, suffix),
            ),
        )
        for real, missing in attacks:
            same_as_missing(client, method, real, missing, headers=w.x.staff)
        too_big = client.open(url({**theirs, "site_id": TOO_BIG}, suffix), method=method,
                              headers=w.admin)  # fmt: skip
        assert too_big.status_code == 404, answer(too_big)
    with c.session_factory() as s:
        assert s.query(CoopPeriod).count() == 0, "X's staff closed Y's month"

    closed = ok(client.post(url(theirs, "/close"), headers=w.y.staff))
    assert (closed["operator_id"], closed["site_id"]) == (w.y.operator_id, w.y.private_site_id)
    assert closed["cost"]["net"] == "866.62"  # 1.8 MWh on C11em, e-invoice (domain.md §6)
    for headers in (w.y.staff, w.admin):
        assert ok(client.get(url(theirs), headers=headers))["id"] == closed["id"]
    # Closed now, Y's month is still nothing X's staff can see or close again.
    for method, suffix in (("POST", "/close"), ("GET", "")):
        same_as_missing(
            client, method, url(theirs, suffix), url({**theirs, "operator_id": MISSING}, suffix),
            headers=w.x.staff,
        )  # fmt: skip
    own = client.get(url(w.x.ids()), headers=w.x.staff)
    assert own.status_code == 404 and "not been closed" in own.json["message"]


@covers("GET /operators/{operator_id}/statements/pdf")
def check_statement_pdf(client, w: World) -> None:
    query = "/statements/pdf?period=2026-11"
    same_as_missing(
        client,
        "GET",
        f"/operators/{w.y.operator_id}{query}",
        f"/operators/{MISSING}{query}",
        headers=w.x.staff,
    )
    same_as_missing(
        client,
        "GET",
        f"/operators/{w.x.operator_id}{query}&code_id={w.y.code_id}",
        f"/operators/{w.x.operator_id}{query}&code_id={MISSING}",
        headers=w.x.staff,
    )
    for headers in (w.y.staff, w.admin):
        r = client.get(f"/operators/{w.y.operator_id}{query}", headers=headers)
        assert r.status_code == 200 and r.mimetype == "application/pdf"


def test_statements_take_only_the_operators_own_codes(client, world):
    """code_id is in the query, out of reach of the path checks above: Y's code under X
    is exactly a missing code, and Y's staff naming it get their statement."""
    w = world
    url = f"/operators/{w.x.operator_id}/statements?period=2026-11"
    same_as_missing(
        client, "GET", f"{url}&code_id={w.y.code_id}", f"{url}&code_id={MISSING}", headers=w.x.staff
    )
    own = f"/operators/{w.y.operator_id}/statements?period=2026-11&code_id={w.y.code_id}"
    assert ok(client.get(own, headers=w.y.staff))["operator_id"] == w.y.operator_id


def payouts_of(client, t: Tenant) -> tuple[int, int]:
    """A bank payout waiting to be transferred and a Stripe payout Stripe refused, of T's,
    as a settlement run leaves them (arranged directly: no settlement endpoint here)."""
    from decimal import Decimal

    from backend.db.models.settlements import Payout, Settlement

    c = client.application.extensions["wattpass"]
    ids = []
    with c.session_factory() as s:
        for n, (method, status) in enumerate((("bank", "to_transfer"), ("stripe", "failed"))):
            st = Settlement(
                number=f"WP/R/2026/{t.name}-{n}", operator_id=t.operator_id,
                period=f"2026-0{n + 1}", business_case="SEMI", currency="PLN",
                vat_rate=Decimal("0.23"), terms="{}", charge_points=2, energy_kwh=Decimal(500),
                revenue_net_minor=65040, fee_net_minor=10504, direction="payout",
                net_minor=54536, vat_minor=12543, gross_minor=67079, lines="[]",
            )  # fmt: skip
            s.add(st)
            s.flush()
            p = Payout(
                settlement_id=st.id, operator_id=t.operator_id, amount_minor=67079,
                currency="PLN", method=method, status=status,
                destination="acct_1Gone" if method == "stripe" else "",
                idempotency_key=f"wp-payout-{st.id}", attempts=1 if method == "stripe" else 0,
                failure="No such connected account." if status == "failed" else "",
            )  # fmt: skip
            s.add(p)
            s.flush()
            ids.append(p.id)
        s.commit()
    return ids[0], ids[1]


@covers("POST /admin/payouts/{payout_id}/confirm", "POST /admin/payouts/{payout_id}/retry")
def check_admin_payouts(client, w: World) -> None:
    """Only platform admins confirm or retry a payout: to anyone else a real payout of
    Y's answers exactly as a missing one (403 by role, before any lookup), and nothing
    changes; X's staff do not see Y's payouts in their own list either."""
    bank, failed = payouts_of(client, w.y)
    not_admins = {
        "X's staff": w.x.staff,
        "Y's staff": w.y.staff,
        "driver A": w.a.headers,
        "driver B": w.b.headers,
    }
    body = {"reference": "PRZELEW 2026/11/001"}
    for who, headers in not_admins.items():
        for payout_id in (bank, failed):
            for suffix in ("confirm", "retry"):
                same_as_missing(
                    client, "POST", f"/admin/payouts/{payout_id}/{suffix}",
                    f"/admin/payouts/{MISSING}/{suffix}", who=who, status=403,
                    headers=headers, json=body,
                )  # fmt: skip
        account = {"stripe_account_id": "acct_1Stolen"}
        r = client.put(f"/admin/operators/{w.y.operator_id}/payout-account", json=account,
                       headers=headers)  # fmt: skip
        assert r.status_code == 403, (who, answer(r))
    listed = ok(client.get(f"/operators/{w.y.operator_id}/payouts", headers=w.y.staff))
    assert sorted((p["id"], p["status"], p["reference"]) for p in listed) == [
        (bank, "to_transfer", ""), (failed, "failed", "")]  # fmt: skip
    assert ok(client.get(f"/operators/{w.x.operator_id}/payouts", headers=w.x.staff)) == []

    done = ok(client.post(f"/admin/payouts/{bank}/confirm", json=body, headers=w.admin))
    assert (done["operator_id"], done["status"], done["reference"]) == (
        w.y.operator_id, "paid", body["reference"])  # fmt: skip
    # Connect is off in this world (no Stripe key): a conflict about that, not a 404.
    r = client.post(f"/admin/payouts/{failed}/retry", headers=w.admin)
    assert r.status_code == 409, answer(r)
    for suffix in ("confirm", "retry"):
        r = client.post(f"/admin/payouts/{TOO_BIG}/{suffix}", json=body, headers=w.admin)
        assert r.status_code == 404, answer(r)


SETTLEMENT = OPS + "/settlements/{settlement_id}"


@covers(
    f"GET {SETTLEMENT}",
    f"GET {SETTLEMENT}/items",
    f"GET {SETTLEMENT}/pdf",
    f"GET {SETTLEMENT}/items.csv",
)
def check_settlements(client, w: World) -> None:
    """October settled for X and Y by an admin (the world's clock is in November): X's
    staff asking for Y's settlement (JSON, its items, its PDF or CSV), under Y or under
    X, get exactly the answer for a missing one; drivers are refused by role; Y's staff
    and admins read it."""
    made = {
        t.name: ok(
            client.post(
                f"/operators/{t.operator_id}/settlements", json={"period": "2026-10"},
                headers=w.admin,
            ),
            201,
        )["id"]
        for t in (w.x, w.y)
    }  # fmt: skip
    x, y, theirs = w.x, w.y, made[w.y.name]
    suffixes = ("", "/items", "/pdf", "/items.csv")
    for suffix in suffixes:
        url = SETTLEMENT + suffix
        attacks = (
            (
                url.format(operator_id=y.operator_id, settlement_id=theirs),
                url.format(operator_id=MISSING, settlement_id=theirs),
            ),
            (
                url.format(operator_id=x.operator_id, settlement_id=theirs),
                url.format(operator_id=x.operator_id, settlement_id=MISSING),
            ),
        )
        for real, missing in attacks:
            same_as_missing(client, "GET", real, missing, headers=x.staff, who="X's staff")
        for who, headers in (("driver A", w.a.headers), ("driver B", w.b.headers)):
            same_as_missing(client, "GET", attacks[0][0], attacks[0][1], headers=headers,
                            who=who, status=403)  # fmt: skip
        kind = {"/pdf": "application/pdf", "/items.csv": "text/csv"}.get(suffix, "application/json")
        for headers in (y.staff, w.admin):
            r = client.get(attacks[0][0], headers=headers)
            assert (r.status_code, r.mimetype) == (200, kind), (attacks[0][0], r.status)
    one = ok(client.get(SETTLEMENT.format(operator_id=y.operator_id, settlement_id=theirs),
                        headers=y.staff))  # fmt: skip
    assert (one["id"], one["operator_id"], one["period"]) == (theirs, y.operator_id, "2026-10")
    own = ok(client.get(f"/operators/{x.operator_id}/settlements", headers=x.staff))
    assert [s["id"] for s in own] == [made[x.name]]
    # An id beyond the schema's range names nothing: 404 even for an admin, never a 500.
    for suffix in suffixes:
        too_big = (SETTLEMENT + suffix).format(operator_id=y.operator_id, settlement_id=TOO_BIG)
        r = client.get(too_big, headers=w.admin)
        assert r.status_code == 404, (too_big, answer(r))


@pytest.mark.parametrize("operation", sorted(CHECKS))
def test_drivers_see_only_their_own_and_what_they_are_members_of(client, world, operation):
    CHECKS[operation](client, world)


# --- the matrix covers every owned-resource operation --------------------------------------

# Lists that take no id but are filtered by tenant; checked above as well.
TENANT_FILTERED_LISTS = {"GET /charge-points", "GET /operators"}
# Owned-resource operations of features that landed while this matrix was written, still
# being built next to it: payments and cards (a payment gateway and charging sessions),
# plan subscriptions, charger commands, health and firmware campaigns (the charger
# gateway). Named one by one so nothing else slips through; an entry that gets covered
# or disappears fails the test until it is taken off this list.
NOT_YET_COVERED = {
    "POST /operators/{operator_id}/charge-points/{charge_point_id}/commands",
    "GET /operators/{operator_id}/charge-points/{charge_point_id}/health",
    "GET /operators/{operator_id}/charge-points/{charge_point_id}/health-actions",
    "GET /operators/{operator_id}/firmware-campaigns",
    "POST /operators/{operator_id}/firmware-campaigns",
    "GET /operators/{operator_id}/firmware-campaigns/{campaign_id}",
    "GET /me/cards",
    "POST /me/cards/setup-intent",
    "POST /me/cards/sync",
    "POST /me/cards/{card_id}/default",
    "DELETE /me/cards/{card_id}",
    "GET /me/payments",
    "GET /me/payments/{payment_id}",
    "POST /me/payments/{payment_id}/retry",
    "GET /payments/{payment_id}",
    "POST /payments/{payment_id}/refunds",
    "POST /me/plans/subscribe",
    "DELETE /me/plans/{driver_plan_id}",
}


def owned_operations(spec: dict[str, Any]) -> set[str]:
    """Operations that act on something somebody owns: an id in the path, the caller's
    own things (/me, /auth/me), or a refresh token in the body."""

    def schema(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            *_, name = node["$ref"].split("/")
            node = spec["components"]["schemas"][name]
        return node

    owned = set()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            takes_token = "refresh_token" in schema(body.get("schema", {})).get("properties", {})
            if "{" in path or re.match(r"^/(me|auth/me)(/|$)", path) or takes_token:
                owned.add(f"{method.upper()} {path}")
    return owned


def test_every_owned_resource_operation_is_in_the_matrix(client):
    spec = ok(client.get("/openapi.json"))
    everything = {
        f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item
    }
    covered = set(OPERATOR_CASES) | set(CHECKS)
    assert everything >= TENANT_FILTERED_LISTS
    owned = owned_operations(spec)
    assert covered - owned - TENANT_FILTERED_LISTS == set(), "stale entries in the matrix"
    assert owned - covered - NOT_YET_COVERED == set(), "owned operations no tenant check covers"
    assert NOT_YET_COVERED & covered == set(), "covered now: take them off NOT_YET_COVERED"
    assert owned >= NOT_YET_COVERED, "gone from the API: take them off NOT_YET_COVERED"
    assert len(owned) >= 50  # the rule above did find the API's owned operations


# --- a guest code that expires, a code that is revoked --------------------------------------


def closed_to(client, driver: Driver, t: Tenant) -> None:
    """T's private point does not exist for the driver (again)."""
    headers = {"headers": driver.headers}
    assert t.private_cp_id not in search(client, driver.headers)
    for suffix in ("", "/price", "/price-preview?kwh=10"):
        url = f"/charge-points/{t.private_cp_id}{suffix}"
        same_as_missing(client, "GET", url, f"/charge-points/{MISSING}{suffix}", **headers)
    same_as_missing(
        client, "PUT", f"/me/favourites/{t.private_cp_id}", f"/me/favourites/{MISSING}", **headers
    )
    assert t.private_cp_id not in favourites(client, driver)


def test_expired_guest_code_closes_the_private_point_again(client, world, clock):
    w, y = world, world.y
    # Now is 2026-11-20 13:00 in Warsaw; checkout is 22 Nov 12:00 local = 11:00Z.
    guest = {
        "kind": "temporary",
        "site_ids": [y.private_site_id],
        "price_group_id": y.company_id,
        "valid_from": "2026-11-20T12:00",
        "valid_to": "2026-11-22T12:00",
    }
    code = ok(client.post(f"/operators/{y.operator_id}/codes", json=guest, headers=y.staff), 201)
    stay = ok(redeem(client, w.a, code["code"]), 201)
    assert stay["valid_until"] == "2026-11-22T11:00:00+00:00"
    ok(client.put(f"/me/favourites/{y.private_cp_id}", headers=w.a.headers), 204)
    assert search(client, w.a.headers)[y.private_cp_id]["price_group"]["id"] == y.company_id

    clock.advance(days=1, hours=22, minutes=59)  # 22 Nov 11:59 in Warsaw: still a guest
    w.a.headers = login(client, w.a.email)  # access tokens live 15 minutes
    assert ok(client.get(f"/charge-points/{y.private_cp_id}", headers=w.a.headers))["member"]
    assert y.private_cp_id in favourites(client, w.a)

    clock.advance(minutes=1)  # 12:00 in Warsaw: checkout
    w.a.headers = login(client, w.a.email)
    closed_to(client, w.a, y)
    assert (stay["id"], "expired") in memberships(client, w.a)
    # A's membership of X is not affected by Y's guest code expiring.
    assert ok(client.get(f"/charge-points/{w.x.private_cp_id}", headers=w.a.headers))["member"]

    again = redeem(client, w.a, code["code"])
    assert again.status_code == 422 and again.json["code"] == "code_expired"
    assert again.json["message"] == "This code expired on 22 Nov 2026, 12:00 (Europe/Warsaw)."
    newcomer = register(client, "Carol")
    late = redeem(client, newcomer, code["code"])
    assert answer(late) == answer(again)
    staff = login(client, f"staff@{y.name.lower()}.example.com")
    listed = ok(client.get(f"/operators/{y.operator_id}/codes/{code['id']}", headers=staff))
    assert (listed["status"], listed["active_members"]) == ("expired", 0)


def test_revoked_code_closes_the_private_point_and_cannot_be_redeemed(client, world):
    w, y = world, world.y
    assert ok(client.get(f"/charge-points/{y.private_cp_id}", headers=w.b.headers))["member"]
    url = f"/operators/{y.operator_id}/codes/{y.code_id}/revoke"
    assert ok(client.post(url, headers=y.staff))["status"] == "revoked"
    closed_to(client, w.b, y)
    assert memberships(client, w.b) == [(w.b_membership_id, "ended")]
    # A revoked code and a code never issued get one and the same answer.
    revoked, unknown = redeem(client, w.b, y.code), redeem(client, w.b, NEVER_ISSUED)
    assert revoked.status_code == 404 and revoked.json["message"] == NOT_VALID
    assert answer(revoked) == answer(unknown)
    assert answer(redeem(client, w.a, y.code)) == answer(unknown)
    # X's code, and A's membership from it, are not touched by Y revoking its own.
    assert memberships(client, w.a) == [(w.a_membership_id, "active")]


@covers(f"POST {OPS}/contracts/{{contract_id}}/end")
def check_contract_end(client, w: World) -> None:
    """Ending a contract is for platform admins: X's and Y's staff and drivers are
    refused by role and nothing changes; an admin ending Y's contract under X's operator
    gets exactly the answer for a missing one."""
    theirs = ok(client.get(f"/operators/{w.y.operator_id}/contracts", headers=w.admin))[0]
    body = {"last_day": "2099-12-31"}
    url = OPS + "/contracts/{contract_id}/end"
    real = url.format(operator_id=w.y.operator_id, contract_id=theirs["id"])
    missing = url.format(operator_id=w.y.operator_id, contract_id=MISSING)
    for who, headers in (
        ("X's staff", w.x.staff),
        ("Y's staff", w.y.staff),
        ("driver A", w.a.headers),
        ("driver B", w.b.headers),
    ):
        same_as_missing(client, "POST", real, missing, who=who, status=403, json=body,
                        headers=headers)  # fmt: skip
    crossed = url.format(operator_id=w.x.operator_id, contract_id=theirs["id"])
    elsewhere = url.format(operator_id=w.x.operator_id, contract_id=MISSING)
    same_as_missing(client, "POST", crossed, elsewhere, who="admin", json=body, headers=w.admin)
    after = ok(client.get(f"/operators/{w.y.operator_id}/contracts", headers=w.admin))[0]
    assert after == theirs
