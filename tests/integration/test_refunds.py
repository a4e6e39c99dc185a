"""Refunds against a real localstripe: full and partial by the site's operator staff or a
platform admin, never more than was collected, recorded for the next settlement."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from backend.db.models.enums import Role
from backend.db.models.payments import Refund
from backend.services import payment_refunds
from shared.money import Money
from tests import factories as f
from tests.payments_fixtures import save_card


@pytest.fixture
def settings(settings, stripe_env):  # type: ignore[no-untyped-def]
    return stripe_env.settings_for(settings)


@pytest.fixture
def world(client, session, container, clock, stripe_env):  # type: ignore[no-untyped-def]
    x, y = f.operator(session, "Xenon"), f.operator(session, "Yttrium")
    site = f.site(session, x)
    people = {
        "driver": f.user(session),
        "staff_x": f.user(session, Role.OPERATOR_STAFF, operator_id=x.operator.id),
        "staff_y": f.user(session, Role.OPERATOR_STAFF, operator_id=y.operator.id),
        "admin": f.user(session, Role.PLATFORM_ADMIN),
    }
    session.commit()
    headers = {k: f.login(client, u) for k, u in people.items()}
    save_card(client, headers["driver"], stripe_env)
    billing = container.billing
    billing.place_hold(session, 55, people["driver"].id, "PLN", clock(), site_id=site.id)
    done = billing.settle(session, 55, 4440)
    return {"headers": headers, "payment": done.hold, "site": site, "x": x, "people": people}


def refund(client, world, amount, who="staff_x", payment=None):  # type: ignore[no-untyped-def]
    p = payment or world["payment"]
    return client.post(
        f"/payments/{p.id}/refunds",
        json={"amount": amount, "reason": "Charger stopped early"},
        headers=world["headers"][who],
    )


def test_a_full_refund_by_the_sites_operator(client, world, stripe_env):
    r = refund(client, world, "44.40")
    assert r.status_code == 201, r.json
    assert (r.json["amount"], r.json["status"], r.json["period"], r.json["session_ref"]) == (
        "44.40",
        "succeeded",
        "2026-11",
        55,
    )
    p = world["payment"]
    refunds = stripe_env.admin.v1.refunds.list(
        params={"payment_intent": p.stripe_payment_intent_id}
    ).to_dict()["data"]
    ours = [x for x in refunds if x["metadata"].get("wattpass_key")]
    assert [x["amount"] for x in ours] == [4440]
    view = client.get(f"/payments/{p.id}", headers=world["headers"]["staff_x"]).json
    assert (view["refunded"], view["refundable"], len(view["refunds"])) == ("44.40", "0.00", 1)
    over = refund(client, world, "0.01")
    assert over.status_code == 422 and "0.00" in over.json["message"]


def test_partial_refunds_up_to_what_was_collected(client, world):
    assert refund(client, world, "10.00").status_code == 201
    too_much = refund(client, world, "34.41")
    assert too_much.status_code == 422
    assert set(too_much.json) == {"code", "status", "message", "errors"}
    assert "34.40" in too_much.json["message"]
    assert refund(client, world, "34.40", who="admin").status_code == 201
    assert refund(client, world, "0.01").status_code == 422


def test_an_over_refund_is_refused_before_stripe_hears_of_it(client, session, world, stripe_env):
    r = refund(client, world, "50.00")
    assert r.status_code == 422 and "44.40" in r.json["message"]
    assert session.scalar(select(Refund)) is None
    assert refund(client, world, "-1.00").status_code == 422
    assert refund(client, world, "1.001").status_code == 422


def test_only_the_sites_operator_or_an_admin_may_refund(client, world):
    missing = client.post(
        "/payments/999999/refunds",
        json={"amount": "1.00", "reason": "x"},
        headers=world["headers"]["staff_y"],
    )
    other = refund(client, world, "1.00", who="staff_y")
    assert other.status_code == 404 == missing.status_code and other.json == missing.json
    assert (
        client.get(
            f"/payments/{world['payment'].id}", headers=world["headers"]["staff_y"]
        ).status_code
        == 404
    )
    assert refund(client, world, "1.00", who="driver").status_code == 403
    assert refund(client, world, "1.00", who="admin").status_code == 201


def test_refunds_are_carried_into_the_settlement_period_of_the_site(client, session, world, clock):
    # 23:30 UTC on 30 November is already December in Warsaw.
    clock.now = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    world["headers"]["staff_x"] = f.login(client, world["people"]["staff_x"])  # new day, new login
    r = refund(client, world, "5.00")
    assert r.json["period"] == "2026-12"
    rows = payment_refunds.for_settlement(session, world["x"].operator.id, "2026-12")
    assert [(x.amount_minor, x.session_ref, x.site_id) for x in rows] == [
        (500, 55, world["site"].id)
    ]
    assert payment_refunds.for_settlement(session, world["x"].operator.id, "2026-11") == []


def test_a_released_hold_has_nothing_to_refund(client, session, container, world, clock):
    billing = container.billing
    billing.place_hold(
        session, 56, world["people"]["driver"].id, "PLN", clock(), site_id=world["site"].id
    )
    released = billing.settle(session, 56, 0).hold
    r = refund(client, world, "1.00", payment=released)
    assert r.status_code == 422 and "Nothing was collected" in r.json["message"]


def test_a_crash_after_stripe_refunded_is_not_refunded_twice(
    session, container, world, clock, stripe_env
):
    p = world["payment"]
    actor = payment_refunds.Actor(world["people"]["admin"].id, Role.PLATFORM_ADMIN, None)
    armed = {"on": True}

    def boom(sess):  # type: ignore[no-untyped-def]
        # (the identity map, not `dirty`: a query in between has flushed the change already)
        rows = [o for o in sess.identity_map.values() if isinstance(o, Refund)]
        if armed["on"] and any(o.stripe_refund_id for o in rows):
            armed["on"] = False
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    event.listen(session, "before_commit", boom)
    with pytest.raises(OperationalError):
        payment_refunds.refund(
            session, container.payments, actor, p.id, Money(1000, "PLN"), "late", clock()
        )
    event.remove(session, "before_commit", boom)
    session.rollback()
    with container.session_factory() as s:
        # The next refund first finishes the interrupted one (found at Stripe by its key).
        payment_refunds.refund(
            s, container.payments, actor, p.id, Money(500, "PLN"), "more", clock()
        )
        rows = s.scalars(select(Refund).order_by(Refund.id)).all()
        assert [(r.amount_minor, r.status) for r in rows] == [
            (1000, "succeeded"),
            (500, "succeeded"),
        ]
        assert payment_refunds.refundable_minor(s, s.get(type(p), p.id)) == 4440 - 1500
    at_stripe = stripe_env.admin.v1.refunds.list(
        params={"payment_intent": p.stripe_payment_intent_id}
    ).to_dict()["data"]
    assert sorted(x["amount"] for x in at_stripe if x["metadata"].get("wattpass_key")) == [
        500,
        1000,
    ]


def test_a_refund_during_a_stripe_outage_is_finished_later_once(
    client, container, world, settings, stripe_env
):
    import dataclasses

    from backend.adapters.stripe_gateway import make_gateway

    live = container.payments
    container.payments = make_gateway(
        dataclasses.replace(settings, stripe_api_base="http://127.0.0.1:9")
    )
    r = refund(client, world, "4.00")
    assert r.status_code == 503 and r.json["code"] == "payment_provider_unavailable"
    p = world["payment"]
    view = client.get(f"/payments/{p.id}", headers=world["headers"]["staff_x"]).json
    assert [x["status"] for x in view["refunds"]] == ["pending"]
    assert view["refundable"] == "40.40"  # a refund under way counts already

    container.payments = live  # Stripe is back: looking at the payment finishes it
    view = client.get(f"/payments/{p.id}", headers=world["headers"]["staff_x"]).json
    assert [x["status"] for x in view["refunds"]] == ["succeeded"]
    assert (view["refunded"], view["refundable"]) == ("4.00", "40.40")
    at_stripe = stripe_env.admin.v1.refunds.list(
        params={"payment_intent": p.stripe_payment_intent_id}
    ).to_dict()["data"]
    assert [x["amount"] for x in at_stripe if x["metadata"].get("wattpass_key")] == [400]
