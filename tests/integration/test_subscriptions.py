"""Paid plans on Stripe Billing (localstripe): subscribe with the default card, decline and
3-D Secure, cancel at the end of the period, and the rule that a public (PUB) station
needs an active plan."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backend.db.models import DriverPlan, OperatorContract, Plan
from backend.db.models.payments import PlanBilling, PlanSubscription
from backend.services import plans
from backend.services.cards import customer_id
from backend.services.subscriptions import PlanRequired, require_active_plan
from tests import factories as f
from tests.payments_fixtures import DECLINED_WHEN_CHARGED, NEEDS_3DS, save_card, wait_for


@pytest.fixture
def settings(settings, stripe_env):  # type: ignore[no-untyped-def]
    return stripe_env.settings_for(settings)


@pytest.fixture
def catalogue(session):  # type: ignore[no-untyped-def]
    free = Plan(code="pay-per-use", name="Pay per use", currency="PLN",
                price_per_kwh=Decimal("2.50"), monthly_fee=Decimal("0"))  # fmt: skip
    plus = Plan(code="plus", name="Plus", currency="PLN",
                price_per_kwh=Decimal("1.90"), monthly_fee=Decimal("49.00"))  # fmt: skip
    session.add_all([free, plus])
    session.commit()
    return free, plus


@pytest.fixture
def driver(client, session, catalogue):  # type: ignore[no-untyped-def]
    u = f.user(session)
    session.commit()
    headers = f.login(client, u)
    r = client.post(
        "/me/plans", json={"plan_code": "pay-per-use", "accept_terms": True}, headers=headers
    )
    assert r.status_code == 200, r.json
    return u, headers


def pub_site(session):  # type: ignore[no-untyped-def]
    op = f.operator(session)
    session.add(
        OperatorContract(
            operator_id=op.operator.id, business_case="PUB", currency="PLN",
            agreed_price_per_kwh_net=Decimal("0.90"), valid_from=date(2026, 1, 1),
        )
    )  # fmt: skip
    site = f.site(session, op)
    session.commit()
    return site


def subscribe(client, headers, code="plus"):  # type: ignore[no-untyped-def]
    return client.post("/me/plans/subscribe", json={"plan_code": code}, headers=headers)


def test_subscribing_needs_a_card(client, driver):
    _, headers = driver
    r = subscribe(client, headers)
    assert r.status_code == 402 and r.json["code"] == "payment_method_required"


def test_subscribe_creates_the_stripe_plan_once_and_charges_the_first_month(
    client, session, driver, stripe_env, clock
):
    user, headers = driver
    save_card(client, headers, stripe_env)
    r = subscribe(client, headers)
    assert r.status_code == 201, r.json
    body = r.json
    assert (body["status"], body["plan"]["code"], body["ended_at"]) == ("active", "plus", None)
    assert body["current_period_end"] and body["cancel_at_period_end"] is False

    billing = session.scalar(select(PlanBilling))
    stripe_plan = stripe_env.admin.v1.plans.retrieve(billing.stripe_plan_id)
    assert (stripe_plan.amount, stripe_plan.currency, stripe_plan.interval) == (
        4900,
        "pln",
        "month",
    )
    sub = session.scalar(select(PlanSubscription))
    at_stripe = stripe_env.admin.v1.subscriptions.retrieve(sub.stripe_subscription_id)
    assert at_stripe.status == "active"
    # The plan replaces pay-per-use; the first month is one of the driver's payments.
    session.expire_all()
    assert plans.current(session, user.id, "PLN", clock()).id == body["id"]
    [paid] = client.get("/me/payments?kind=plan", headers=headers).json
    assert (paid["status"], paid["amount"]) == ("succeeded", "49.00")

    again = subscribe(client, headers)
    assert again.status_code == 201 and again.json["id"] == body["id"]
    other = f.user(session)
    session.commit()
    theirs = f.login(client, other)
    save_card(client, theirs, stripe_env)
    assert subscribe(client, theirs).status_code == 201
    assert session.scalar(select(func.count()).select_from(PlanBilling)) == 1  # reused
    assert len(stripe_env.admin.v1.plans.list().data) == 1


def test_a_declined_card_is_a_clear_error_and_leaves_nothing_behind(
    client, session, driver, stripe_env, clock
):
    user, headers = driver
    save_card(client, headers, stripe_env, DECLINED_WHEN_CHARGED)
    r = subscribe(client, headers)
    assert r.status_code == 402 and r.json["code"] == "card_declined"
    assert "declined" in r.json["message"]
    sub = session.scalar(select(PlanSubscription))
    at_stripe = stripe_env.admin.v1.subscriptions.retrieve(sub.stripe_subscription_id)
    assert at_stripe.status == "canceled"
    session.expire_all()
    assert session.get(DriverPlan, sub.driver_plan_id).status == "ended"
    held = plans.current(session, user.id, "PLN", clock())
    assert session.get(Plan, held.plan_id).code == "pay-per-use"  # still charging as before


def test_3d_secure_then_the_plan_starts_when_stripe_reports_it(
    client, session, container, driver, stripe_env, webhook_receiver, clock
):
    user, headers = driver
    stripe_env.attach_card(customer_id(session, container.payments, user.id), NEEDS_3DS)
    client.post("/me/cards/sync", headers=headers)
    r = subscribe(client, headers)
    assert r.status_code == 402 and r.json["code"] == "authentication_required"
    errors = r.json["errors"]
    assert errors["client_secret"] and errors["publishable_key"].startswith("pk_")
    dp_id = errors["driver_plan_id"]
    session.expire_all()
    assert session.get(DriverPlan, dp_id).status == "incomplete"
    assert client.get("/me/payments?status=requires_authentication", headers=headers).json

    status, _ = stripe_env.authenticate(errors["client_secret"])  # the app confirms
    assert status == 200

    def active():  # type: ignore[no-untyped-def]
        session.expire_all()
        return session.get(DriverPlan, dp_id).status == "active"

    wait_for(active, what="invoice.payment_succeeded to activate the plan")
    held = plans.current(session, user.id, "PLN", clock())
    assert held.id == dp_id


def test_cancel_keeps_the_plan_to_the_end_of_the_paid_period(
    client, session, driver, stripe_env, webhook_receiver, clock
):
    user, headers = driver
    save_card(client, headers, stripe_env)
    body = subscribe(client, headers).json
    r = client.delete(f"/me/plans/{body['id']}", headers=headers)
    assert r.status_code == 200
    assert (r.json["status"], r.json["cancel_at_period_end"]) == ("active", True)
    assert r.json["ended_at"] == r.json["current_period_end"] is not None
    sub = session.scalar(select(PlanSubscription))
    assert stripe_env.admin.v1.subscriptions.retrieve(
        sub.stripe_subscription_id
    ).cancel_at_period_end
    assert client.delete(f"/me/plans/{body['id']}", headers=headers).json == r.json

    # The period ends: Stripe deletes the subscription and says so.
    stripe_env.admin.v1.subscriptions.cancel(sub.stripe_subscription_id)

    def ended():  # type: ignore[no-untyped-def]
        session.expire_all()
        return session.get(DriverPlan, body["id"]).status == "ended"

    wait_for(ended, what="customer.subscription.deleted")
    assert plans.current(session, user.id, "PLN", clock()) is None


def test_someone_elses_plan_cannot_be_cancelled(client, session, driver, stripe_env):
    _, headers = driver
    save_card(client, headers, stripe_env)
    body = subscribe(client, headers).json
    other = f.user(session)
    session.commit()
    theirs = f.login(client, other)
    r = client.delete(f"/me/plans/{body['id']}", headers=theirs)
    missing = client.delete("/me/plans/999999", headers=theirs)
    assert r.status_code == 404 and r.json == missing.json


def test_a_public_station_needs_an_active_plan(client, session, catalogue, clock):
    site = pub_site(session)
    u = f.user(session)
    session.commit()
    with pytest.raises(PlanRequired) as exc:
        require_active_plan(session, u.id, site, clock())
    assert exc.value.status == 403 and "pay-per-use" in exc.value.message
    plans.accept_free_plan(session, u.id, "pay-per-use", True, clock())
    assert require_active_plan(session, u.id, site, clock()).status == "active"
    # An operator-priced site needs no plan.
    op = f.operator(session)
    private = f.site(session, op)
    session.commit()
    assert require_active_plan(session, f.user(session).id, private, clock()) is None


def test_the_free_plan_does_not_silently_replace_a_running_subscription(
    client, session, driver, stripe_env
):
    _, headers = driver
    save_card(client, headers, stripe_env)
    body = subscribe(client, headers).json
    free = {"plan_code": "pay-per-use", "accept_terms": True}
    r = client.post("/me/plans", json=free, headers=headers)
    assert r.status_code == 409 and "Cancel it first" in r.json["message"]
    client.delete(f"/me/plans/{body['id']}", headers=headers)  # cancelled at period end
    assert client.post("/me/plans", json=free, headers=headers).status_code == 200


# --- GET /me/plans: what the app needs to cancel a plan --------------------------------------


def my_plans(client, headers) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    r = client.get("/me/plans", headers=headers)
    assert r.status_code == 200, r.json
    return {p["plan"]["code"]: p for p in r.json}


def test_my_plans_carry_the_id_that_cancels_them(client, session, driver, stripe_env, clock):
    user, headers = driver
    other = f.user(session)
    session.commit()
    plans.accept_free_plan(session, other.id, "pay-per-use", True, clock())
    save_card(client, headers, stripe_env)
    paid = subscribe(client, headers).json
    listed = my_plans(client, headers)
    # The same plan, the same shape, from the list as from subscribing.
    assert listed["plus"] == paid
    free = listed["pay-per-use"]
    mine = {
        dp.plan_id: dp.id for dp in session.scalars(select(DriverPlan).filter_by(driver_id=user.id))
    }
    assert (free["id"], paid["id"]) == (mine[free["plan"]["id"]], mine[paid["plan"]["id"]])
    # The catalogue plan's id is not it (here it names someone else's plan: not found).
    assert paid["id"] != paid["plan"]["id"]
    assert client.delete(f"/me/plans/{paid['plan']['id']}", headers=headers).status_code == 404

    # Cancelled with nothing but what the list gave: the paid plan to its period's end,
    # the free one now; the list then says so.
    assert client.delete(f"/me/plans/{listed['plus']['id']}", headers=headers).status_code == 200
    assert client.delete(f"/me/plans/{free['id']}", headers=headers).status_code == 200
    after = my_plans(client, headers)
    assert (after["plus"]["status"], after["plus"]["cancel_at_period_end"]) == ("active", True)
    assert after["plus"]["ended_at"] == after["plus"]["current_period_end"] is not None
    assert (after["pay-per-use"]["status"], after["pay-per-use"]["cancel_at_period_end"]) == (
        "ended",
        False,
    )


def test_the_openapi_spec_describes_one_plan_shape_with_its_id(client):
    spec = client.get("/openapi.json").json

    def answer(path: str, method: str, status: str) -> dict:  # type: ignore[type-arg]
        return spec["paths"][path][method]["responses"][status]["content"]["application/json"]

    listed = answer("/me/plans", "get", "200")["schema"]
    ref = listed["items"]["$ref"]
    assert listed["type"] == "array"
    assert answer("/me/plans", "post", "200")["schema"]["$ref"] == ref
    assert answer("/me/plans/subscribe", "post", "201")["schema"]["$ref"] == ref
    assert answer("/me/plans/{driver_plan_id}", "delete", "200")["schema"]["$ref"] == ref
    props = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
    assert {"id", "plan", "status", "started_at", "ended_at", "cancel_at_period_end",
            "current_period_end", "failure_message"} <= set(props)  # fmt: skip
    assert "DELETE" in props["id"]["description"]
