"""monthly billing against a real localstripe: one charge per driver, site and period;
3-D Secure recorded and then paid from the app through GET /me/payments."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.db.models.payments import Payment
from backend.errors import Conflict, InvalidInput
from backend.services.cards import customer_id
from shared.money import Money
from tests import factories as f
from tests.payments_fixtures import DECLINED_WHEN_CHARGED, NEEDS_3DS, save_card


@pytest.fixture
def settings(settings, stripe_env):  # type: ignore[no-untyped-def]
    return stripe_env.settings_for(settings)


@pytest.fixture
def setup(client, session, container):  # type: ignore[no-untyped-def]
    op = f.operator(session)
    site = f.site(session, op)
    other_site = f.site(session, op)
    u = f.user(session)
    session.commit()
    return u, f.login(client, u), site, other_site, container.billing


def test_one_charge_per_driver_site_and_period(client, session, setup, stripe_env):
    user, headers, site, other_site, billing = setup
    save_card(client, headers, stripe_env)
    p = billing.charge_period(session, user.id, site.id, "2026-11", Money.of("288.87", "PLN"))
    assert (p.kind, p.status, p.amount_minor, p.captured_minor) == (
        "monthly",
        "succeeded",
        28887,
        28887,
    )
    again = billing.charge_period(session, user.id, site.id, "2026-11", 28887)
    assert again.id == p.id
    cus = customer_id(session, billing.gw, user.id)
    assert len(stripe_env.intents(cus)) == 1
    with pytest.raises(Conflict):
        billing.charge_period(session, user.id, site.id, "2026-11", 100)
    # Another site or another period is another charge.
    billing.charge_period(session, user.id, other_site.id, "2026-11", 1000)
    billing.charge_period(session, user.id, site.id, "2026-12", 1000)
    assert len(stripe_env.intents(cus)) == 3
    with pytest.raises(InvalidInput):
        billing.charge_period(session, user.id, site.id, "2026-13", 1000)
    nothing = billing.charge_period(session, user.id, site.id, "2027-01", 0)
    assert nothing.status == "nothing_due" and len(stripe_env.intents(cus)) == 3


def test_a_declined_monthly_charge_is_recorded_not_raised(client, session, setup, stripe_env):
    user, headers, site, _, billing = setup
    save_card(client, headers, stripe_env, DECLINED_WHEN_CHARGED)
    p = billing.charge_period(session, user.id, site.id, "2026-11", 5000)
    assert (p.status, p.failure_code) == ("failed", "card_declined")
    assert billing.charge_period(session, user.id, site.id, "2026-11", 5000).id == p.id
    assert session.scalar(select(func.count(Payment.id))) == 1


def test_3d_secure_monthly_charge_is_paid_from_the_app(client, session, setup, stripe_env):
    user, headers, site, _, billing = setup
    stripe_env.attach_card(customer_id(session, billing.gw, user.id), NEEDS_3DS)
    client.post("/me/cards/sync", headers=headers)
    p = billing.charge_period(session, user.id, site.id, "2026-11", 12345)
    assert p.status == "requires_authentication"

    waiting = client.get("/me/payments?status=requires_authentication", headers=headers)
    assert waiting.status_code == 200
    [item] = waiting.json
    assert (item["id"], item["amount"], item["kind"], item["period"]) == (
        p.id,
        "123.45",
        "monthly",
        "2026-11",
    )
    assert item["client_secret"].startswith(p.stripe_payment_intent_id)
    assert item["publishable_key"].startswith("pk_") and item["api_base"] == stripe_env.url

    status, _ = stripe_env.authenticate(item["client_secret"])  # the app confirms
    assert status == 200
    paid = client.get(f"/me/payments/{p.id}", headers=headers).json  # re-read from Stripe
    assert (paid["status"], paid["captured"], paid["client_secret"]) == (
        "succeeded",
        "123.45",
        None,
    )
    assert client.get("/me/payments?status=requires_authentication", headers=headers).json == []


def test_a_failed_3d_secure_is_a_failed_payment(client, session, setup, stripe_env):
    user, headers, site, _, billing = setup
    stripe_env.attach_card(customer_id(session, billing.gw, user.id), NEEDS_3DS)
    client.post("/me/cards/sync", headers=headers)
    p = billing.charge_period(session, user.id, site.id, "2026-11", 12345)
    [item] = client.get("/me/payments?status=requires_authentication", headers=headers).json
    stripe_env.authenticate(item["client_secret"], success=False)
    failed = client.get(f"/me/payments/{p.id}", headers=headers).json
    assert failed["status"] == "failed" and failed["failure_message"]


def test_payments_are_the_drivers_own(client, session, setup, stripe_env):
    user, headers, site, _, billing = setup
    save_card(client, headers, stripe_env)
    p = billing.charge_period(session, user.id, site.id, "2026-11", 5000)
    other = f.user(session)
    session.commit()
    theirs = f.login(client, other)
    assert client.get("/me/payments", headers=theirs).json == []
    r = client.get(f"/me/payments/{p.id}", headers=theirs)
    missing = client.get("/me/payments/999999", headers=theirs)
    assert r.status_code == 404 and r.json == missing.json
    assert client.post(f"/me/payments/{p.id}/retry", headers=theirs).status_code == 404
    mine = client.get("/me/payments", headers=headers).json
    assert [x["id"] for x in mine] == [p.id]
