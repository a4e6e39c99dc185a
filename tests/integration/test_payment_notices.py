"""Payment notices against a real localstripe and PostgreSQL, read the way the app reads
them (GET /me/notifications, GET /me/outbox): a session whose card wants 3-D Secure asks
the driver once, for one payment of what the session cost, and is paid once they confirm
it; a failure Stripe reports by webhook is told once however often it is delivered; a
retry from the app that is declined again is told again — once; Stripe's own event about
a failure already told adds nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from backend.db.models import Payment, Receipt, SessionCharge
from backend.db.models.payments import StripeEvent
from backend.services.cards import customer_id
from tests import factories as f
from tests.integration.test_billing_support import driver, ended_session, local, place, price
from tests.payments_fixtures import DECLINED_WHEN_CHARGED, NEEDS_3DS, OK_CARD, wait_for


@pytest.fixture
def settings(settings, stripe_env):  # type: ignore[no-untyped-def]
    return stripe_env.settings_for(settings)


@pytest.fixture
def world(client, session, container, stripe_env):  # type: ignore[no-untyped-def]
    """A hotel at 2.40 PLN/kWh (per_session), a block of flats at 1.50 (monthly), and a
    driver logged in to the app with one phone registered for pushes."""
    hotel = place(session)
    v = price(session, hotel, energy="2.40")
    block = place(session, name="Osiedle Zielone")
    price(session, block, energy="1.50", billing_mode="monthly")
    u = driver(session)
    session.commit()
    headers = f.login(client, u)
    r = client.post(
        "/me/devices", json={"token": "phone-1", "platform": "android"}, headers=headers
    )
    assert r.status_code == 201, r.json
    return {"hotel": hotel, "version": v, "block": block, "user": u, "headers": headers}


def add_card(client, session, container, stripe_env, w, number: str) -> None:  # type: ignore[no-untyped-def]
    """A card the app saved (3-D Secure passed at setup where needed), made the default."""
    cus = customer_id(session, container.payments, w["user"].id)
    stripe_env.attach_card(cus, number)
    cards = client.post("/me/cards/sync", headers=w["headers"]).json
    card = next(c for c in cards if c["last4"] == number[-4:])
    r = client.post(f"/me/cards/{card['id']}/default", headers=w["headers"])
    assert r.status_code == 200, r.json


def ended(session, w, *, monthly: bool = False):  # type: ignore[no-untyped-def]
    """A 5 kWh session that ended with no hold placed at its start (an RFID start)."""
    site = w["block"] if monthly else w["hotel"]
    return ended_session(session, site, w["user"], start=local(2026, 11, 20, 18, 0),
                         end=local(2026, 11, 20, 19, 0), wh=5_000,
                         version=None if monthly else w["version"])  # fmt: skip


def told(client, w) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    """The driver's inbox, oldest first: (kind, payment id)."""
    notes = client.get("/me/notifications", headers=w["headers"]).json
    return [(n["kind"], n["data"].get("payment_id")) for n in reversed(notes)]


def pushed(client, w) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    """What reached the phone, in order: (kind, payment id)."""
    messages = client.get("/me/outbox", headers=w["headers"]).json
    return [(m["data"]["kind"], m["data"].get("payment_id")) for m in messages]


def post(client, env, payload: bytes) -> Any:  # type: ignore[no-untyped-def]
    return client.post("/stripe/webhooks", data=payload, headers=env.sign(payload))


def test_3d_secure_at_the_end_is_one_payment_confirmed_once_then_paid(
    client, session, container, stripe_env, world, clock
):
    add_card(client, session, container, stripe_env, world, NEEDS_3DS)
    row = ended(session, world)
    billing = container.session_billing
    assert billing.bill_ended_session(session, row.id, clock()).status == "payment_pending"
    for _ in range(2):
        billing.bill_pending(session, clock())

    # The app lists one payment to confirm: the session's 12.00, with what confirms it.
    [waiting] = client.get(
        "/me/payments?status=requires_authentication", headers=world["headers"]
    ).json
    assert (waiting["kind"], waiting["amount"], waiting["session_ref"]) == ("hold", "12.00", row.id)
    pid = str(waiting["id"])
    assert told(client, world) == [("session_ended", None), ("authentication_needed", pid)]

    status, _ = stripe_env.authenticate(waiting["client_secret"])  # the driver confirms
    assert status == 200
    billing.bill_pending(session, clock())
    session.expire_all()
    charge = session.scalar(select(SessionCharge).where(SessionCharge.session_id == row.id))
    assert charge.status == "paid"
    assert session.get(Receipt, charge.receipt_id).gross_minor == 1200
    [intent] = stripe_env.intents(customer_id(session, container.payments, world["user"].id))
    assert intent["status"] == "succeeded"
    taken = intent["latest_charge"]
    assert taken["amount"] - taken["amount_refunded"] == 1200
    assert told(client, world) == [("session_ended", None), ("authentication_needed", pid)]
    assert pushed(client, world) == told(client, world)


def test_a_failed_3d_secure_reported_by_stripe_is_told_once(
    client, session, container, stripe_env, world, clock
):
    add_card(client, session, container, stripe_env, world, NEEDS_3DS)
    row = ended(session, world)
    billing = container.session_billing
    billing.bill_ended_session(session, row.id, clock())
    hold = session.scalar(select(Payment))
    secret = client.get(f"/me/payments/{hold.id}", headers=world["headers"]).json["client_secret"]
    status, _ = stripe_env.authenticate(secret, success=False)  # the driver fails it
    assert status == 200

    # Stripe's payment_intent.payment_failed (localstripe sends none for this): delivered
    # twice, then once more under a new id.
    obj = {"id": hold.stripe_payment_intent_id, "object": "payment_intent"}
    payload = stripe_env.event("payment_intent.payment_failed", obj, "evt_3ds_failed")
    assert post(client, stripe_env, payload).json["result"] == "processed"
    assert post(client, stripe_env, payload).json["result"] == "duplicate"
    again = stripe_env.event("payment_intent.payment_failed", obj)
    assert post(client, stripe_env, again).json["result"] == "processed"
    pid = str(hold.id)
    assert told(client, world) == [
        ("session_ended", None),
        ("authentication_needed", pid),
        ("payment_failed", pid),
    ]
    billing.bill_pending(session, clock())  # the sweep sees the outcome: not asked again
    session.expire_all()
    assert session.scalar(select(SessionCharge)).status == "payment_failed"
    assert session.scalar(select(func.count()).select_from(Payment)) == 1
    assert len(told(client, world)) == 3
    assert pushed(client, world) == told(client, world)


def test_a_declined_retry_is_told_again_and_stripes_own_events_add_nothing(
    client, session, container, stripe_env, world, clock, webhook_receiver
):
    add_card(client, session, container, stripe_env, world, DECLINED_WHEN_CHARGED)
    row = ended(session, world, monthly=True)
    billing = container.session_billing
    billing.bill_ended_session(session, row.id, clock())
    billing.close_month(session, world["user"].id, world["block"].site.id, "2026-11", clock())
    monthly = session.scalar(select(Payment))
    assert monthly.status == "failed"

    def failures_handled(n: int):  # type: ignore[no-untyped-def]
        def check() -> bool:
            session.expire_all()
            handled = select(func.count()).where(
                StripeEvent.type == "payment_intent.payment_failed",
                StripeEvent.status.in_(("processed", "ignored")),
            )
            return session.scalar(handled) == n

        return check

    # localstripe tells the webhook endpoint of each decline too (~1 s later).
    wait_for(failures_handled(1), what="Stripe's event about the decline")
    retried = client.post(f"/me/payments/{monthly.id}/retry", headers=world["headers"])
    assert (retried.status_code, retried.json["status"]) == (200, "failed")
    wait_for(failures_handled(2), what="Stripe's event about the retry's decline")
    pid = str(monthly.id)
    assert told(client, world) == [
        ("session_ended", None),
        ("payment_failed", pid),
        ("payment_failed", pid),
    ]

    add_card(client, session, container, stripe_env, world, OK_CARD)
    paid = client.post(f"/me/payments/{monthly.id}/retry", headers=world["headers"])
    assert (paid.status_code, paid.json["status"]) == (200, "succeeded")
    session.expire_all()  # the API's own database session paid it
    receipt = billing.close_month(
        session, world["user"].id, world["block"].site.id, "2026-11", clock()
    )
    assert receipt is not None and receipt.gross_minor == 750
    wait_for(
        lambda: session.scalar(
            select(func.count()).where(StripeEvent.type == "payment_intent.succeeded")
        ),
        what="Stripe's event about the payment",
    )
    assert len(told(client, world)) == 3
    assert pushed(client, world) == told(client, world)


def test_stripes_event_after_the_driver_confirms_bills_the_session_at_once(
    client, session, container, stripe_env, world, clock
):
    # No sweep after the confirmation: Stripe's event alone gets the session paid, so
    # the receipt follows the driver's confirmation instead of the next sweep.
    add_card(client, session, container, stripe_env, world, NEEDS_3DS)
    row = ended(session, world)
    billing = container.session_billing
    assert billing.bill_ended_session(session, row.id, clock()).status == "payment_pending"
    hold = session.scalar(select(Payment))
    secret = client.get(f"/me/payments/{hold.id}", headers=world["headers"]).json["client_secret"]
    status, _ = stripe_env.authenticate(secret)
    assert status == 200

    obj = {"id": hold.stripe_payment_intent_id, "object": "payment_intent"}
    payload = stripe_env.event("payment_intent.amount_capturable_updated", obj, "evt_3ds_ok")
    assert post(client, stripe_env, payload).json["result"] == "processed"
    session.expire_all()
    charge = session.scalar(select(SessionCharge).where(SessionCharge.session_id == row.id))
    assert charge.status == "paid"
    assert session.get(Receipt, charge.receipt_id).gross_minor == 1200
    # The same event again, and the sweep after it: nothing more is charged or issued.
    assert post(client, stripe_env, payload).json["result"] == "duplicate"
    billing.bill_pending(session, clock())
    assert session.scalar(select(func.count()).select_from(Receipt)) == 1
    [intent] = stripe_env.intents(customer_id(session, container.payments, world["user"].id))
    taken = intent["latest_charge"]
    assert taken["amount"] - taken["amount_refunded"] == 1200
    pid = str(hold.id)
    assert told(client, world) == [("session_ended", None), ("authentication_needed", pid)]


def test_a_declined_session_payment_is_paid_from_the_app_with_another_card(
    client, session, container, stripe_env, world, clock
):
    add_card(client, session, container, stripe_env, world, DECLINED_WHEN_CHARGED)
    row = ended(session, world)
    billing = container.session_billing
    assert billing.bill_ended_session(session, row.id, clock()).status == "payment_failed"
    hold = session.scalar(select(Payment))
    add_card(client, session, container, stripe_env, world, OK_CARD)  # the new default

    r = client.post(f"/me/payments/{hold.id}/retry", headers=world["headers"])
    assert r.status_code == 200, r.json
    session.expire_all()
    charge = session.scalar(select(SessionCharge).where(SessionCharge.session_id == row.id))
    assert charge.status == "paid"
    assert session.get(Receipt, charge.receipt_id).gross_minor == 1200
    # Paid: asking again is refused and charges nothing; the sweep adds nothing either.
    again = client.post(f"/me/payments/{hold.id}/retry", headers=world["headers"])
    assert again.status_code == 409, again.json
    billing.bill_pending(session, clock(), retry_failed=True)
    assert session.scalar(select(func.count()).select_from(Payment)) == 1
    assert session.scalar(select(func.count()).select_from(Receipt)) == 1
    cus = customer_id(session, container.payments, world["user"].id)
    paid = [i for i in stripe_env.intents(cus) if i["status"] == "succeeded"]
    assert len(paid) == 1 and paid[0]["latest_charge"]["amount"] == 1200
    pid = str(hold.id)
    assert told(client, world) == [("session_ended", None), ("payment_failed", pid)]
