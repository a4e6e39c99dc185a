"""POST /stripe/webhooks against a real localstripe: signatures, renewals and failed
renewals, events replayed or out of order, and Stripe unreachable while handling one.

localstripe delivers the events it has (signed, ~1 s later) to `webhook_receiver`; the
events it lacks (a failed renewal's invoice.payment_failed) are sent by the test exactly
as Stripe would send them — the handler re-reads the object from Stripe either way."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backend.adapters.stripe_gateway import make_gateway
from backend.db.models import DriverPlan, Notification, OperatorContract, Plan
from backend.db.models.payments import Payment, PlanSubscription, StripeEvent
from backend.services import notification_events as ev
from backend.services import notification_texts as texts
from backend.services.cards import customer_id
from backend.services.subscriptions import PlanRequired, require_active_plan
from shared.money import Money
from tests import factories as f
from tests.payments_fixtures import DECLINED_WHEN_CHARGED, save_card, wait_for


@pytest.fixture
def settings(settings, stripe_env):  # type: ignore[no-untyped-def]
    return stripe_env.settings_for(settings)


@pytest.fixture
def subscribed(client, session, stripe_env):  # type: ignore[no-untyped-def]
    """A driver on the paid plan "plus" (PLN 49.00 a month), paid with a good card."""
    session.add(Plan(code="plus", name="Plus", currency="PLN",
                     price_per_kwh=Decimal("1.90"), monthly_fee=Decimal("49.00")))  # fmt: skip
    u = f.user(session)
    session.commit()
    headers = f.login(client, u)
    [card] = save_card(client, headers, stripe_env)
    r = client.post("/me/plans/subscribe", json={"plan_code": "plus"}, headers=headers)
    assert r.status_code == 201, r.json
    sub = session.scalar(select(PlanSubscription))
    return u, headers, r.json["id"], sub.stripe_subscription_id, card


def post(client, env, payload, headers=None):  # type: ignore[no-untyped-def]
    return client.post("/stripe/webhooks", data=payload, headers=headers or env.sign(payload))


def renewal_invoice(env, customer: str, subscription: str) -> str:
    """Stripe starting the next period: a new invoice for the subscription, collected."""
    invoice = env.admin.v1.invoices.create(
        params={"customer": customer, "subscription": subscription}
    )
    env.admin.v1.invoices.pay(invoice.id)
    return str(invoice.id)


def plan_status(session, driver_plan_id):  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.get(DriverPlan, driver_plan_id).status


# --- signatures ----------------------------------------------------------------------------


def test_a_bad_or_missing_signature_is_400_and_nothing_happens(client, session, stripe_env):
    payload = stripe_env.event(
        "payment_intent.succeeded", {"id": "pi_x", "object": "payment_intent"}
    )
    cases = [
        {"Stripe-Signature": "t=1,v1=deadbeef", "Content-Type": "application/json"},
        {"Content-Type": "application/json"},
        stripe_env.sign(payload, secret="whsec_someone_else"),
        stripe_env.sign(payload + b" "),  # signed a different body
    ]
    for headers in cases:
        r = post(client, stripe_env, payload, headers)
        assert r.status_code == 400, headers
        assert set(r.json) == {"code", "status", "message", "errors"}
        assert r.json["code"] == "invalid_signature"
    assert session.scalar(select(func.count()).select_from(StripeEvent)) == 0


# --- renewals ------------------------------------------------------------------------------


def test_a_paid_renewal_keeps_the_plan_and_records_the_payment(
    client, session, container, subscribed, stripe_env, webhook_receiver
):
    user, headers, dp_id, sub_id, _ = subscribed
    invoice = renewal_invoice(stripe_env, customer_id(session, container.payments, user.id), sub_id)

    def recorded():  # type: ignore[no-untyped-def]
        session.expire_all()
        return session.scalar(select(Payment).where(Payment.stripe_invoice_id == invoice))

    p = wait_for(recorded, what="invoice.payment_succeeded of the renewal")
    assert (p.kind, p.status, p.amount_minor) == ("plan", "succeeded", 4900)
    assert plan_status(session, dp_id) == "active"
    sub = session.scalar(select(PlanSubscription))
    assert sub.latest_invoice_id == invoice and sub.current_period_end is not None
    assert len(client.get("/me/payments?kind=plan", headers=headers).json) == 2


def test_a_failed_renewal_puts_the_plan_on_hold_and_says_why(
    client, session, container, subscribed, stripe_env, webhook_receiver, clock
):
    user, headers, dp_id, sub_id, good = subscribed
    cus = customer_id(session, container.payments, user.id)
    stripe_env.attach_card(cus, DECLINED_WHEN_CHARGED)
    bad = next(c for c in client.get("/me/cards", headers=headers).json if c["last4"] == "0341")
    client.post(f"/me/cards/{bad['id']}/default", headers=headers)
    invoice = renewal_invoice(stripe_env, cus, sub_id)  # declined: localstripe sends nothing

    payload = stripe_env.event("invoice.payment_failed", {"id": invoice, "object": "invoice"})
    r = post(client, stripe_env, payload)
    assert r.status_code == 200 and r.json["result"] == "processed"
    assert plan_status(session, dp_id) == "past_due"
    sub = session.scalar(select(PlanSubscription))
    assert "declined" in sub.failure_message

    op = f.operator(session)
    session.add(OperatorContract(operator_id=op.operator.id, business_case="PUB", currency="PLN",
                                 agreed_price_per_kwh_net=Decimal("0.90"),
                                 valid_from=date(2026, 1, 1)))  # fmt: skip
    site = f.site(session, op)
    session.commit()
    with pytest.raises(PlanRequired) as exc:
        require_active_plan(session, user.id, site, clock())
    assert "declined" in exc.value.message and "payment failed" in exc.value.message
    mine = client.get("/me/plans", headers=headers).json
    assert any(p["status"] == "past_due" for p in mine)

    # The driver switches back to a good card; Stripe's retry succeeds and says so.
    client.post(f"/me/cards/{good['id']}/default", headers=headers)
    stripe_env.admin.v1.invoices.pay(invoice)
    wait_for(lambda: plan_status(session, dp_id) == "active", what="the retried renewal")
    session.expire_all()
    assert session.scalar(select(PlanSubscription)).failure_message == ""
    assert require_active_plan(session, user.id, site, clock()).id == dp_id


# --- replayed, out of order, unknown ------------------------------------------------------


def test_an_event_delivered_twice_is_handled_once(client, session, subscribed, stripe_env):
    _, _, _, sub_id, _ = subscribed
    payload = stripe_env.event(
        "customer.subscription.updated", {"id": sub_id, "object": "subscription"}, "evt_twice"
    )
    first = post(client, stripe_env, payload)
    second = post(client, stripe_env, payload)
    assert (first.json["result"], second.json["result"]) == ("processed", "duplicate")
    assert session.scalar(select(func.count()).select_from(StripeEvent)) == 1


def test_a_late_failure_event_does_not_undo_a_later_success(
    client, session, container, subscribed, stripe_env
):
    _, _, dp_id, _, _ = subscribed
    invoice = session.scalar(select(PlanSubscription)).latest_invoice_id  # paid at subscribe
    succeeded = stripe_env.event("invoice.payment_succeeded", {"id": invoice, "object": "invoice"})
    failed = stripe_env.event("invoice.payment_failed", {"id": invoice, "object": "invoice"})
    assert post(client, stripe_env, succeeded).status_code == 200
    assert post(client, stripe_env, failed).status_code == 200  # older news, arriving late
    assert plan_status(session, dp_id) == "active"
    p = session.scalar(select(Payment).where(Payment.stripe_invoice_id == invoice))
    assert p.status == "succeeded"


def test_payment_intent_events_out_of_order_leave_a_captured_hold_alone(
    client, session, container, clock, stripe_env
):
    u = f.user(session)
    session.commit()
    save_card(client, f.login(client, u), stripe_env)
    billing = container.billing
    hold = billing.place_hold(session, 31, u.id, "PLN", clock())
    billing.settle(session, 31, 2000)
    for kind in ("payment_intent.amount_capturable_updated", "payment_intent.payment_failed",
                 "payment_intent.succeeded", "payment_intent.canceled"):  # fmt: skip
        payload = stripe_env.event(
            kind, {"id": hold.stripe_payment_intent_id, "object": "payment_intent"}
        )
        assert post(client, stripe_env, payload).status_code == 200
    session.expire_all()
    row = session.get(Payment, hold.id)
    assert (row.status, row.captured_minor) == ("captured", 2000)


def test_events_about_objects_that_are_not_ours_are_acknowledged(client, session, stripe_env):
    for kind, obj in (
        ("payment_intent.succeeded", {"id": "pi_nobody", "object": "payment_intent"}),
        ("customer.created", {"id": "cus_nobody", "object": "customer"}),
        ("invoice.paid", {"id": "in_nobody", "object": "invoice"}),
    ):
        r = post(client, stripe_env, stripe_env.event(kind, obj))
        assert r.status_code == 200 and r.json["result"] == "ignored"


def test_stripe_unreachable_while_handling_means_deliver_again(
    client, session, container, subscribed, settings, stripe_env
):
    _, _, dp_id, sub_id, _ = subscribed
    payload = stripe_env.event(
        "customer.subscription.deleted", {"id": sub_id, "object": "subscription"}, "evt_retry"
    )
    stripe_env.admin.v1.subscriptions.cancel(sub_id)
    live = container.payments
    container.payments = make_gateway(
        dataclasses.replace(settings, stripe_api_base="http://127.0.0.1:9")
    )
    r = post(client, stripe_env, payload)
    assert r.status_code == 503 and r.json["code"] == "payment_provider_unavailable"
    assert session.get(StripeEvent, "evt_retry").status == "received"
    assert plan_status(session, dp_id) == "active"  # nothing acted on

    container.payments = live
    r = post(client, stripe_env, payload)  # Stripe delivers it again
    assert r.json["result"] == "processed"
    assert plan_status(session, dp_id) == "ended"


# --- telling the driver about renewals -----------------------------------------------------


def plan_notes(session, user_id, kind):  # type: ignore[no-untyped-def]
    session.expire_all()
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.user_id == user_id, Notification.kind == kind)
            .order_by(Notification.id)
        )
    )


def assert_plan_text(note, event) -> None:  # type: ignore[no-untyped-def]
    shown = texts.render(event, note.language)
    assert (note.kind, note.title, note.body) == (event.kind, shown.title, shown.body)


def test_a_paid_renewal_is_told_once_however_often_stripe_says_so(
    client, session, container, subscribed, stripe_env, webhook_receiver
):
    user, _, _, sub_id, _ = subscribed
    first = session.scalar(select(PlanSubscription)).latest_invoice_id
    # The first month (charged when subscribing) is no renewal.
    paid = stripe_env.event("invoice.paid", {"id": first, "object": "invoice"})
    assert post(client, stripe_env, paid).json["result"] == "processed"
    assert plan_notes(session, user.id, "plan_renewed") == []

    invoice = renewal_invoice(stripe_env, customer_id(session, container.payments, user.id), sub_id)
    [note] = wait_for(
        lambda: plan_notes(session, user.id, "plan_renewed"), what="the renewal's notice"
    )
    assert_plan_text(note, ev.PlanRenewed("Plus", Money(4900, "PLN")))
    # Replayed under new event ids, and a late failure event for the same invoice.
    for kind in ("invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed"):
        payload = stripe_env.event(kind, {"id": invoice, "object": "invoice"})
        assert post(client, stripe_env, payload).status_code == 200
    assert len(plan_notes(session, user.id, "plan_renewed")) == 1
    assert plan_notes(session, user.id, "plan_renewal_failed") == []


def test_a_failed_renewal_is_told_once_and_so_is_the_paid_retry(
    client, session, container, subscribed, stripe_env, webhook_receiver
):
    user, headers, _, sub_id, good = subscribed
    cus = customer_id(session, container.payments, user.id)
    stripe_env.attach_card(cus, DECLINED_WHEN_CHARGED)
    bad = next(c for c in client.get("/me/cards", headers=headers).json if c["last4"] == "0341")
    client.post(f"/me/cards/{bad['id']}/default", headers=headers)
    invoice = renewal_invoice(stripe_env, cus, sub_id)  # declined: localstripe sends nothing
    for _ in range(2):  # Stripe's retries of the event come with new ids
        payload = stripe_env.event("invoice.payment_failed", {"id": invoice, "object": "invoice"})
        assert post(client, stripe_env, payload).json["result"] == "processed"
    update = stripe_env.event(
        "customer.subscription.updated", {"id": sub_id, "object": "subscription"}
    )
    assert post(client, stripe_env, update).json["result"] == "processed"
    [failed] = plan_notes(session, user.id, "plan_renewal_failed")
    assert_plan_text(failed, ev.PlanRenewalFailed("Plus", Money(4900, "PLN")))
    assert plan_notes(session, user.id, "plan_renewed") == []

    client.post(f"/me/cards/{good['id']}/default", headers=headers)
    stripe_env.admin.v1.invoices.pay(invoice)
    [renewed] = wait_for(
        lambda: plan_notes(session, user.id, "plan_renewed"), what="the retried renewal's notice"
    )
    assert_plan_text(renewed, ev.PlanRenewed("Plus", Money(4900, "PLN")))
    assert len(plan_notes(session, user.id, "plan_renewal_failed")) == 1
    # The invoices' payments are told by these two alone (no payment_failed beside them).
    kinds = session.scalars(
        select(Notification.kind).where(Notification.user_id == user.id).order_by(Notification.id)
    ).all()
    assert kinds == ["plan_renewal_failed", "plan_renewed"]
