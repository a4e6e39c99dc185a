"""Saved cards against a real localstripe: the app's SetupIntent journey, the list kept in
step with Stripe (sync, webhook, re-read), default and removal, one driver's cards
invisible to another."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from backend.adapters.stripe_gateway import make_gateway
from backend.db.models.payments import PaymentCard, PaymentCustomer
from tests import factories as f
from tests.payments_fixtures import DECLINED_AT_ATTACH, OK_CARD, save_card

MASTERCARD_TEST = "5555555555554444"


@pytest.fixture
def settings(settings, stripe_env):  # type: ignore[no-untyped-def]
    return stripe_env.settings_for(settings)


@pytest.fixture
def driver(client, session):  # type: ignore[no-untyped-def]
    u = f.user(session)
    session.commit()
    return u, f.login(client, u)


def _customer(session, driver_id):  # type: ignore[no-untyped-def]
    session.expire_all()
    row = session.get(PaymentCustomer, driver_id)
    return row.stripe_customer_id if row else None


def test_a_card_saved_in_the_app_is_listed_without_its_number(client, session, driver, stripe_env):
    user, headers = driver
    assert _customer(session, user.id) is None  # created lazily, not at sign-up

    setup = client.post("/me/cards/setup-intent", headers=headers)
    assert setup.status_code == 201
    body = setup.json
    assert set(body) == {"setup_intent_id", "client_secret", "publishable_key", "api_base"}
    assert body["publishable_key"].startswith("pk_test_")
    assert body["api_base"] == stripe_env.url
    customer = _customer(session, user.id)
    assert customer and customer.startswith("cus_")

    status, confirmed = stripe_env.confirm_setup(body, OK_CARD)
    assert (status, confirmed["status"]) == (200, "succeeded")

    # No webhook, no sync call: listing re-reads Stripe.
    cards = client.get("/me/cards", headers=headers)
    assert cards.status_code == 200
    [card] = cards.json
    assert (card["brand"], card["last4"], card["exp_month"], card["exp_year"]) == (
        "visa",
        "4242",
        12,
        2030,
    )
    assert card["is_default"] is True
    assert OK_CARD not in cards.get_data(as_text=True)
    # Attached to the driver's customer at Stripe and made its invoice default.
    pm = session.scalar(select(PaymentCard)).stripe_payment_method_id
    assert stripe_env.admin.v1.payment_methods.retrieve(pm).customer == customer
    cus = stripe_env.admin.v1.customers.retrieve(customer).to_dict()
    assert cus["invoice_settings"]["default_payment_method"] == pm

    again = client.post("/me/cards/sync", headers=headers)
    assert [c["id"] for c in again.json] == [card["id"]]  # syncing twice adds nothing
    assert session.scalar(select(func.count(PaymentCustomer.driver_id))) == 1


def test_a_card_declined_at_setup_is_not_saved(client, driver, stripe_env):
    _, headers = driver
    setup = client.post("/me/cards/setup-intent", headers=headers).json
    status, body = stripe_env.confirm_setup(setup, DECLINED_AT_ATTACH)
    assert status == 402 and body["error"]["code"] == "card_declined"
    assert client.post("/me/cards/sync", headers=headers).json == []


def test_default_card_and_removal_follow_stripe(client, session, driver, stripe_env):
    user, headers = driver
    [first] = save_card(client, headers, stripe_env)
    cards = save_card(client, headers, stripe_env, MASTERCARD_TEST)
    second = next(c for c in cards if c["last4"] == "4444")
    assert cards[0]["id"] == first["id"] and not second["is_default"]

    chosen = client.post(f"/me/cards/{second['id']}/default", headers=headers)
    assert chosen.status_code == 200 and chosen.json["is_default"]
    listed = client.get("/me/cards", headers=headers).json
    assert [(c["id"], c["is_default"]) for c in listed] == [
        (second["id"], True),
        (first["id"], False),
    ]
    customer = _customer(session, user.id)
    pm_second = session.get(PaymentCard, second["id"]).stripe_payment_method_id
    cus = stripe_env.admin.v1.customers.retrieve(customer).to_dict()
    assert cus["invoice_settings"]["default_payment_method"] == pm_second

    removed = client.delete(f"/me/cards/{second['id']}", headers=headers)
    assert removed.status_code == 204
    assert stripe_env.admin.v1.payment_methods.retrieve(pm_second).customer is None
    listed = client.get("/me/cards", headers=headers).json
    assert [(c["id"], c["is_default"]) for c in listed] == [(first["id"], True)]
    assert client.delete(f"/me/cards/{second['id']}", headers=headers).status_code == 404


def test_another_drivers_card_does_not_exist_for_me(client, session, driver, stripe_env):
    _, headers = driver
    [card] = save_card(client, headers, stripe_env)
    other = f.user(session)
    session.commit()
    theirs = f.login(client, other)
    assert client.get("/me/cards", headers=theirs).json == []
    for method, url in (
        ("POST", f"/me/cards/{card['id']}/default"),
        ("DELETE", f"/me/cards/{card['id']}"),
    ):
        mine_missing = client.open(
            url.replace(str(card["id"]), "999999"), method=method, headers=theirs
        )
        r = client.open(url, method=method, headers=theirs)
        assert r.status_code == 404 == mine_missing.status_code
        assert r.json == mine_missing.json
    assert client.get("/me/cards", headers=headers).json[0]["id"] == card["id"]


def test_the_setup_intent_webhook_records_the_card(client, session, driver, stripe_env):
    """localstripe sends no setup_intent events, so the test sends the one Stripe would;
    the handler re-reads the SetupIntent from Stripe before recording anything."""
    user, headers = driver
    setup = client.post("/me/cards/setup-intent", headers=headers).json
    payload = stripe_env.event(
        "setup_intent.succeeded", {"id": setup["setup_intent_id"], "object": "setup_intent"}
    )
    # Not confirmed yet at Stripe: the event is a claim, Stripe says otherwise.
    r = client.post("/stripe/webhooks", data=payload, headers=stripe_env.sign(payload))
    assert r.status_code == 200
    assert session.scalar(select(func.count(PaymentCard.id))) == 0

    stripe_env.confirm_setup(setup, OK_CARD)
    payload = stripe_env.event(
        "setup_intent.succeeded", {"id": setup["setup_intent_id"], "object": "setup_intent"}
    )
    r = client.post("/stripe/webhooks", data=payload, headers=stripe_env.sign(payload))
    assert r.status_code == 200 and r.json["result"] == "processed"
    session.expire_all()
    card = session.scalar(select(PaymentCard).where(PaymentCard.driver_id == user.id))
    assert (card.last4, card.is_default) == ("4242", True)


def test_stripe_unreachable_is_a_clear_error_and_the_list_stays(
    client, session, container, driver, settings, stripe_env
):
    _, headers = driver
    [card] = save_card(client, headers, stripe_env)
    down = make_gateway(dataclasses.replace(settings, stripe_api_base="http://127.0.0.1:9"))
    container.payments = down
    r = client.post("/me/cards/setup-intent", headers=headers)
    assert r.status_code == 503
    assert r.json["code"] == "payment_provider_unavailable"
    assert set(r.json) == {"code", "status", "message", "errors"}
    assert "try again" in r.json["message"]
    # Listing falls back to what we know.
    listed = client.get("/me/cards", headers=headers)
    assert listed.status_code == 200 and [c["id"] for c in listed.json] == [card["id"]]


def test_stripe_requests_never_log_the_drivers_e_mail(client, session, driver, stripe_env, caplog):
    # A customer search sends the e-mail in the URL; stripe-python would log it at INFO.
    import logging

    caplog.set_level(logging.DEBUG)
    user, headers = driver
    r = client.post("/me/cards/setup-intent", headers=headers)
    assert r.status_code == 201, r.json
    assert user.email not in caplog.text
