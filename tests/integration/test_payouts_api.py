"""Payouts through the API on PostgreSQL: the operator's list (its own staff and platform
admins only), a bank transfer confirmed by an admin, a failed Stripe transfer retried
after the account was corrected, and the payout account's format. Settlements are
arranged with the ORM (the settlement builder is not under test here)."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from backend.adapters.fake_payouts import FakePayouts
from backend.db.models import Operator
from backend.db.models.enums import Role
from backend.db.models.settlements import Payout, Settlement
from backend.services import payouts
from tests import factories as f

MISSING = 2**31 - 1
SHAPE = {"code", "status", "message", "errors"}
_numbers = itertools.count(1)


def settle(session, op: Operator, period: str, gross: int, *, connect: bool = False) -> Payout:
    st = Settlement(
        number=f"WP/R/2026/{next(_numbers):06d}", operator_id=op.id, period=period,
        business_case="P1", currency="PLN", vat_rate=Decimal("0.23"), terms="{}",
        charge_points=1, energy_kwh=Decimal("120.000"), revenue_net_minor=14634,
        fee_net_minor=732, direction="payout", net_minor=13902, vat_minor=3197,
        gross_minor=gross, lines="[]",
    )  # fmt: skip
    session.add(st)
    session.flush()
    p = payouts.open_payout(session, st, op, connect=connect)
    session.commit()
    return p


@pytest.fixture
def world(client, session):
    x, y = f.operator(session, "Xenon").operator, f.operator(session, "Yttrium").operator
    users = {
        "admin": f.user(session, Role.PLATFORM_ADMIN),
        "x_staff": f.user(session, Role.OPERATOR_STAFF, operator_id=x.id),
        "y_staff": f.user(session, Role.OPERATOR_STAFF, operator_id=y.id),
        "driver": f.user(session, Role.DRIVER),
    }
    session.commit()
    october = settle(session, x, "2026-10", 17099)
    november = settle(session, x, "2026-11", 67079)
    theirs = settle(session, y, "2026-11", 110700)
    headers = {name: f.login(client, u) for name, u in users.items()}
    return {"x": x, "y": y, "h": headers, "october": october, "november": november,
            "theirs": theirs}  # fmt: skip


def test_the_operator_lists_its_payouts_newest_first(client, world):
    x, h = world["x"], world["h"]
    for who in ("x_staff", "admin"):
        r = client.get(f"/operators/{x.id}/payouts", headers=h[who])
        assert r.status_code == 200, r.json
        assert [p["id"] for p in r.json] == [world["november"].id, world["october"].id]
    first = r.json[0]
    assert first == {
        "id": world["november"].id,
        "operator_id": x.id,
        "settlement_id": world["november"].settlement_id,
        "period": "2026-11",
        "number": first["number"],
        "amount": "670.79",  # SEMI university, domain.md §6: 545.36 net + 125.43 VAT
        "currency": "PLN",
        "method": "bank",
        "status": "to_transfer",
        "reference": "",
        "failure": "",
        "paid_at": None,
        "created_at": first["created_at"],
    }
    assert first["number"].startswith("WP/R/2026/")
    page = client.get(f"/operators/{x.id}/payouts?page=2&page_size=1", headers=h["x_staff"])
    assert [p["period"] for p in page.json] == ["2026-10"]
    assert '"total": 2' in page.headers["X-Pagination"]


def test_another_operators_payouts_do_not_exist_for_its_staff(client, world):
    x, h = world["x"], world["h"]
    theirs = client.get(f"/operators/{x.id}/payouts", headers=h["y_staff"])
    missing = client.get(f"/operators/{MISSING}/payouts", headers=h["y_staff"])
    assert theirs.status_code == 404 and theirs.json == missing.json
    assert set(theirs.json) == SHAPE
    own = client.get(f"/operators/{world['y'].id}/payouts", headers=h["y_staff"])
    assert [p["id"] for p in own.json] == [world["theirs"].id]
    assert client.get(f"/operators/{x.id}/payouts", headers=h["driver"]).status_code == 403
    assert client.get(f"/operators/{x.id}/payouts").status_code == 401
    admin_missing = client.get(f"/operators/{MISSING}/payouts", headers=h["admin"])
    assert admin_missing.status_code == 404


def test_an_admin_confirms_a_bank_payout_once(client, world, clock):
    h, p = world["h"], world["october"]
    url = f"/admin/payouts/{p.id}/confirm"
    for who in ("x_staff", "driver"):
        r = client.post(url, json={"reference": "PRZELEW 2026/11/001"}, headers=h[who])
        assert r.status_code == 403 and set(r.json) == SHAPE
    r = client.post(url, json={"reference": "PRZELEW 2026/11/001"}, headers=h["admin"])
    assert r.status_code == 200, r.json
    assert (r.json["status"], r.json["reference"], r.json["method"]) == (
        "paid", "PRZELEW 2026/11/001", "bank")  # fmt: skip
    assert r.json["paid_at"] == clock().isoformat()
    again = client.post(url, json={"reference": "PRZELEW 2026/11/001"}, headers=h["admin"])
    assert again.status_code == 200 and again.json == r.json
    other = client.post(url, json={"reference": "PRZELEW 2026/11/002"}, headers=h["admin"])
    assert other.status_code == 409 and set(other.json) == SHAPE
    assert "PRZELEW 2026/11/001" in other.json["message"]
    listed = client.get(f"/operators/{world['x'].id}/payouts", headers=h["x_staff"]).json
    assert [(q["status"], q["reference"]) for q in listed if q["id"] == p.id] == [
        ("paid", "PRZELEW 2026/11/001")]  # fmt: skip


@pytest.mark.parametrize("body", [{}, {"reference": ""}, {"reference": "a\x00b"},
                                  {"reference": "x" * 121}])  # fmt: skip
def test_a_confirmation_needs_a_reference(client, world, body):
    r = client.post(f"/admin/payouts/{world['october'].id}/confirm", json=body,
                    headers=world["h"]["admin"])  # fmt: skip
    assert r.status_code == 422 and set(r.json) == SHAPE
    assert "reference" in r.json["errors"]


def test_unknown_payouts_are_404(client, world):
    h = world["h"]["admin"]
    for suffix in ("confirm", "retry"):
        for payout_id in (MISSING, 2**40):
            r = client.post(f"/admin/payouts/{payout_id}/{suffix}", json={"reference": "R"},
                            headers=h)  # fmt: skip
            assert r.status_code == 404 and set(r.json) == SHAPE


def test_a_failed_stripe_payout_is_retried_after_the_account_is_corrected(
    client, world, session, container
):
    h, x = world["h"], world["x"]
    gw = FakePayouts(invalid_accounts={"acct_1Wrong"})
    container.payouts = gw  # Connect on, with a fake of the payout port
    url = f"/admin/operators/{x.id}/payout-account"
    assert client.put(url, json={"stripe_account_id": "acct_1Wrong"}, headers=h["admin"]).json == {
        "operator_id": x.id, "stripe_account_id": "acct_1Wrong"}  # fmt: skip
    session.expire_all()
    p = settle(session, session.get(Operator, x.id), "2026-12", 5000, connect=True)
    payouts.send(session, gw, p, container.clock())
    assert p.status == "failed"

    r = client.post(f"/admin/payouts/{p.id}/retry", headers=h["admin"])
    assert (r.json["status"], r.json["failure"]) == ("failed", "No such connected account.")
    assert client.post(f"/admin/payouts/{p.id}/retry", headers=h["x_staff"]).status_code == 403
    client.put(url, json={"stripe_account_id": "acct_1Right"}, headers=h["admin"])
    r = client.post(f"/admin/payouts/{p.id}/retry", headers=h["admin"])
    assert r.status_code == 200, r.json
    assert (r.json["method"], r.json["status"], r.json["amount"]) == ("stripe", "paid", "50.00")
    assert [t.destination for t in gw.made()] == ["acct_1Right"]
    again = client.post(f"/admin/payouts/{p.id}/retry", headers=h["admin"])
    assert again.status_code == 409 and set(again.json) == SHAPE


def test_retry_without_connect_is_a_conflict(client, world):
    r = client.post(f"/admin/payouts/{world['october'].id}/retry", headers=world["h"]["admin"])
    assert r.status_code == 409 and "STRIPE_CONNECT_PAYOUTS" in r.json["message"]


@pytest.mark.parametrize(
    "value",
    ["acct_", "acct_12-34", "ba_1234", "ACCT_123", " acct_1", "acct_" + "a" * 60, None, 5],
)
def test_the_payout_account_is_validated(client, world, session, value):
    x = world["x"]
    r = client.put(f"/admin/operators/{x.id}/payout-account", json={"stripe_account_id": value},
                   headers=world["h"]["admin"])  # fmt: skip
    assert r.status_code == 422 and set(r.json) == SHAPE
    assert "stripe_account_id" in r.json["errors"]
    session.expire_all()
    assert session.get(Operator, x.id).stripe_account_id == ""


def test_the_payout_account_is_set_and_cleared_by_admins_only(client, world, session):
    x, h = world["x"], world["h"]
    url = f"/admin/operators/{x.id}/payout-account"
    body = {"stripe_account_id": "acct_1AbC" + "9" * 55}  # the longest the column holds
    for who in ("x_staff", "y_staff", "driver"):
        assert client.put(url, json=body, headers=h[who]).status_code == 403
    assert client.put(url, json=body, headers=h["admin"]).status_code == 200
    session.expire_all()
    assert session.get(Operator, x.id).stripe_account_id == body["stripe_account_id"]
    cleared = client.put(url, json={"stripe_account_id": ""}, headers=h["admin"])
    assert cleared.json == {"operator_id": x.id, "stripe_account_id": ""}
    r = client.put(f"/admin/operators/{MISSING}/payout-account", json=body, headers=h["admin"])
    assert r.status_code == 404 and set(r.json) == SHAPE
