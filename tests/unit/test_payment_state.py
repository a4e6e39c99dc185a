"""The Payment state machine on its own: facts from Stripe move a row forward only."""

from __future__ import annotations

import pytest

from backend.db.models.payments import Payment
from backend.services import payment_state as st
from backend.services.payment_gateway import IntentInfo


def row(kind: str = "hold", status: str = "pending", **kw: object) -> Payment:
    values: dict[str, object] = {
        "kind": kind, "status": status, "amount_minor": 10000, "captured_minor": 0,
        "refunded_minor": 0, "currency": "PLN", "failure_code": "", "failure_message": "",
        "stripe_payment_intent_id": None, "final_amount_minor": None,
    }  # fmt: skip
    values.update(kw)
    return Payment(**values)


def fact(status: str, amount: int = 10000, **kw: object) -> IntentInfo:
    return IntentInfo(
        id=str(kw.pop("id", "pi_1")), status=status, amount=amount, currency="PLN",
        customer_id="cus_1", payment_method_id="pm_1", capture_method="manual", **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_a_hold_is_authorized_captured_at_most_the_hold():
    p = row()
    st.apply_intent(p, fact("requires_capture"))
    assert p.status == "authorized"
    p.status, p.final_amount_minor = "capturing", 13520
    st.apply_intent(p, fact("succeeded"))
    assert (p.status, p.captured_minor, st.collected(p)) == ("captured", 10000, 10000)


@pytest.mark.parametrize(
    ("before", "after"),
    [("releasing", "released"), ("capturing", "expired"), ("authorized", "expired")],
)
def test_a_cancelled_intent_is_a_release_only_if_we_asked(before: str, after: str):
    p = row(
        status=before,
        stripe_payment_intent_id="pi_1",
        final_amount_minor=0 if before == "releasing" else 500,
    )
    st.apply_intent(p, fact("canceled"))
    assert p.status == after and st.collected(p) == 0


@pytest.mark.parametrize(
    "late", ["requires_capture", "requires_payment_method", "requires_action", "canceled"]
)
def test_a_late_fact_never_moves_a_captured_hold(late: str):
    p = row(
        status="captured",
        stripe_payment_intent_id="pi_1",
        final_amount_minor=4440,
        captured_minor=4440,
    )
    st.apply_intent(p, fact(late))
    assert (p.status, p.captured_minor) == ("captured", 4440)


@pytest.mark.parametrize(
    "late", ["requires_payment_method", "requires_action", "canceled", "processing"]
)
def test_a_late_fact_never_moves_a_succeeded_charge(late: str):
    p = row(kind="extra", status="succeeded", stripe_payment_intent_id="pi_1", captured_minor=3520)
    st.apply_intent(p, fact(late, amount=3520))
    assert (p.status, p.captured_minor) == ("succeeded", 3520)


def test_3d_secure_and_declines_are_recorded_with_a_message():
    p = row(kind="monthly")
    st.apply_intent(p, fact("requires_action"))
    assert (p.status, p.failure_code) == ("requires_authentication", "authentication_required")
    st.apply_intent(
        p,
        fact(
            "requires_payment_method",
            failure_code="card_declined",
            failure_message="Your card was declined.",
        ),
    )
    assert (p.status, p.failure_code, p.failure_message) == (
        "failed",
        "card_declined",
        "Your card was declined.",
    )
    # Stripe's way of refusing an off-session payment that needs 3-D Secure: still waiting.
    q = row(kind="monthly")
    st.apply_intent(q, fact("requires_payment_method", failure_code="authentication_required"))
    assert q.status == "requires_authentication"
    st.apply_intent(q, fact("succeeded", amount=10000))
    assert (q.status, q.captured_minor, q.failure_message) == ("succeeded", 10000, "")


def test_a_row_follows_one_intent_only():
    p = row(stripe_payment_intent_id="pi_1")
    with pytest.raises(ValueError):
        st.apply_intent(p, fact("requires_capture", id="pi_2"))
