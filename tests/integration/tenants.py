"""The two-tenant world of the tenant matrix (test_tenant_matrix.py), built through the
public API, and the few request helpers its checks share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.db.models.enums import Role
from tests import factories as f

# An id nobody holds (the largest the schema can hold): the answer for another tenant's
# id must be exactly the answer for this one, or the difference tells that it exists.
MISSING = 2**31 - 1
PASSWORD = "tenant-matrix-password"
LAT, LON = 52.2297, 21.0122  # Warsaw; both operators' sites lie within 1 km of it

Headers = dict[str, str]


# --- the world, built through the public API --------------------------------------------


@dataclass
class Tenant:
    """One operator and everything it owns, with the ids the API returned."""

    name: str
    operator_id: int
    company_id: int
    public_id: int
    private_site_id: int
    public_site_id: int
    private_cp_id: int
    public_cp_id: int
    code_id: int
    code: str
    token_id: int
    staff: Headers

    def ids(self) -> dict[str, int]:
        """The resource each path parameter of /operators/{operator_id}/... names here."""
        return {
            "operator_id": self.operator_id,
            "site_id": self.private_site_id,
            "charge_point_id": self.private_cp_id,
            "code_id": self.code_id,
            "token_id": self.token_id,
            "price_group_id": self.company_id,
        }


@dataclass
class Driver:
    email: str
    id: int
    headers: Headers
    refresh_token: str


@dataclass
class World:
    admin: Headers
    x: Tenant
    y: Tenant
    a: Driver  # member of X
    b: Driver  # member of Y, holds the pay-per-use plan
    a_membership_id: int
    b_membership_id: int

    def site_owner(self, site_id: int) -> Tenant:
        """Whose private site this is."""
        return self.x if site_id == self.x.private_site_id else self.y


def ok(r, status: int = 200) -> Any:
    """The body of an answer that must have `status` (None when it has no body)."""
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    return r.json if r.data else None


def bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


def login(client, email: str, password: str = PASSWORD) -> Headers:
    r = client.post("/auth/login", json={"email": email, "password": password})
    return bearer(ok(r)["access_token"])


def set_prices(client, staff: Headers, op: int, site: int, prices: dict[int, str]) -> None:
    url = f"/operators/{op}/sites/{site}/prices"
    etag = client.get(url, headers=staff).headers["ETag"]
    for group, price in prices.items():
        r = client.put(
            f"{url}/{group}",
            json={"model": "fixed", "energy_per_kwh": price},
            headers={**staff, "If-Match": etag},
        )
        ok(r)
        etag = r.headers["ETag"]


def build_tenant(client, admin: Headers, name: str, lon: float) -> Tenant:
    op = ok(client.post("/operators", json={"name": name, "country": "PL"}, headers=admin), 201)
    base = f"/operators/{op['id']}"
    groups = {}
    for kind in ("company", "public"):
        group = {"name": f"{name} {kind}", "kind": kind}
        groups[kind] = ok(client.post(f"{base}/price-groups", json=group, headers=admin), 201)["id"]
    contract = {
        "business_case": "SEMI",
        "fee_percent": "5",
        "valid_from": "2026-01-01",
        "valid_to": "2026-12-31",
    }
    ok(client.post(f"{base}/contracts", json=contract, headers=admin), 201)
    email = f"staff@{name.lower()}.example.com"
    login_data = {"email": email, "password": PASSWORD}
    ok(client.post(f"{base}/staff", json=login_data, headers=admin), 201)
    staff = login(client, email)

    sites, cps = {}, {}
    for visibility in ("private", "public"):
        site = {
            "name": f"{name} {visibility}",
            "country": "PL",
            "latitude": LAT,
            "longitude": lon,
            "visibility": visibility,
            "city": "Warszawa",
        }
        sites[visibility] = ok(client.post(f"{base}/sites", json=site, headers=staff), 201)["id"]
        cp = {
            "ocpp_identity": f"{name}-{visibility}".upper(),
            "commissioned": True,
            "connectors": [{"connector_id": 1, "plug_type": "type2", "max_power_kw": "22"}],
        }
        url = f"{base}/sites/{sites[visibility]}/charge-points"
        cps[visibility] = ok(client.post(url, json=cp, headers=staff), 201)["id"]
        prices = {groups["company"]: "1.20", groups["public"]: "2.20"}
        set_prices(client, staff, op["id"], sites[visibility], prices)

    site_url = f"{base}/sites/{sites['private']}"
    supply = {
        "voltage_kv": "0.4",
        "contracted_kw": "22",
        "fuse_a": "40",
        "invoice_form": "einvoice",
    }
    ok(client.put(f"{site_url}/supply", json=supply, headers=staff))
    for day, register in (("2026-10-01", "10000"), ("2026-11-01", "11800")):
        reading = {"read_on": day, "register_kwh": register}
        ok(client.post(f"{site_url}/meter-readings", json=reading, headers=staff), 201)

    residents = {
        "kind": "permanent",
        "site_ids": [sites["private"]],
        "price_group_id": groups["company"],
        "label": f"{name} residents",
    }
    code = ok(client.post(f"{base}/codes", json=residents, headers=staff), 201)
    card = {"id_tag": f"{name}-1", "price_group_id": groups["company"], "label": f"{name} card"}
    token = ok(client.post(f"{base}/rfid-tokens", json=card, headers=staff), 201)
    return Tenant(
        name=name,
        operator_id=op["id"],
        company_id=groups["company"],
        public_id=groups["public"],
        private_site_id=sites["private"],
        public_site_id=sites["public"],
        private_cp_id=cps["private"],
        public_cp_id=cps["public"],
        code_id=code["id"],
        code=code["code"],
        token_id=token["id"],
        staff=staff,
    )


def register(client, name: str) -> Driver:
    email = f"{name.lower()}@drivers.example.com"
    body = {"email": email, "password": PASSWORD, "full_name": f"Driver {name}"}
    tokens = ok(client.post("/auth/register", json=body), 201)
    headers = bearer(tokens["access_token"])
    me = ok(client.get("/auth/me", headers=headers))
    return Driver(email, me["id"], headers, tokens["refresh_token"])


def redeem(client, driver: Driver, code: str):
    return client.post("/me/memberships", json={"code": code}, headers=driver.headers)


def build_world(client, session) -> World:
    """X and Y, A member of X and B of Y, a star each, and B's plan."""
    admin_user = f.user(session, Role.PLATFORM_ADMIN)  # no endpoint creates an admin
    session.commit()
    admin = f.login(client, admin_user)
    x = build_tenant(client, admin, "Xenon", LON)
    y = build_tenant(client, admin, "Yttrium", LON + 0.01)
    a, b = register(client, "Alice"), register(client, "Bob")
    a_membership = ok(redeem(client, a, x.code), 201)["id"]
    b_membership = ok(redeem(client, b, y.code), 201)["id"]
    ok(client.put(f"/me/favourites/{x.private_cp_id}", headers=a.headers), 204)
    ok(client.put(f"/me/favourites/{y.private_cp_id}", headers=b.headers), 204)
    plan = {
        "code": "pay-per-use",
        "name": "Pay per use",
        "currency": "PLN",
        "price_per_kwh": "2.59",
        "monthly_fee": "0",
    }
    ok(client.post("/plans", json=plan, headers=admin), 201)
    choice = {"plan_code": "pay-per-use", "accept_terms": True}
    ok(client.post("/me/plans", json=choice, headers=b.headers))
    return World(admin, x, y, a, b, a_membership, b_membership)


# --- asking, and comparing answers -------------------------------------------------------


def answer(r) -> tuple[int, Any]:
    return r.status_code, (r.json if r.data else None)


def same_as_missing(
    client, method: str, url: str, missing_url: str, *, who: str = "", status: int = 404, **kw
):
    """`url` names someone else's resource: its answer must be `status` and exactly the
    answer for an id that exists nowhere, so that it does not tell the resource exists."""
    real = client.open(url, method=method, **kw)
    missing = client.open(missing_url, method=method, **kw)
    assert real.status_code == status, (who, method, url, answer(real))
    assert answer(real) == answer(missing), (who, method, url)
    return real


def search(client, headers: Headers | None = None, **params: Any) -> dict[int, dict]:
    r = client.get(
        "/charge-points", query_string={"lat": LAT, "lon": LON, **params}, headers=headers or {}
    )
    return {item["id"]: item for item in ok(r)}


def favourites(client, driver: Driver) -> list[int]:
    return [item["id"] for item in ok(client.get("/me/favourites", headers=driver.headers))]


def memberships(client, driver: Driver) -> list[tuple[int, str]]:
    r = client.get("/me/memberships?include_ended=true", headers=driver.headers)
    return [(m["id"], m["status"]) for m in ok(r)]
