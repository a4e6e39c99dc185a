"""One per_session session billed end to end against a real localstripe: the card saved
the way the app does it, the hold placed and captured, the receipt naming the card."""

from __future__ import annotations

import pytest

from backend.db.models import Payment, Receipt
from tests import factories as f
from tests.integration.test_billing_support import driver, ended_session, local, place, price
from tests.payments_fixtures import save_card


@pytest.fixture
def settings(settings, stripe_env):  # type: ignore[no-untyped-def]
    return stripe_env.settings_for(settings)


def test_a_session_is_captured_at_localstripe_and_receipted(
    client, session, container, stripe_env, clock
):
    p = place(session)
    v = price(
        session, p, model="fixed_with_idle", energy="2.40", idle="0.50", window=("08:00", "22:00")
    )
    u = driver(session)
    session.commit()
    save_card(client, f.login(client, u), stripe_env)
    row = ended_session(
        session,
        p,
        u,
        start=local(2026, 11, 20, 20, 0),
        full=local(2026, 11, 20, 21, 10),
        end=local(2026, 11, 20, 23, 30),
        wh=18_500,
        version=v,
    )

    charge = container.session_billing.bill_ended_session(session, row.id, clock())
    assert (charge.status, charge.gross_minor) == ("paid", 6940)
    hold = session.get(Payment, charge.payment_id)
    intent = stripe_env.admin.v1.payment_intents.retrieve(hold.stripe_payment_intent_id).to_dict()
    assert (intent["status"], intent["capture_method"]) == ("succeeded", "manual")
    taken = intent["latest_charge"]
    assert taken["amount"] - taken["amount_refunded"] == 6940  # the rest of the hold went back
    receipt = session.get(Receipt, charge.receipt_id)
    assert (receipt.number, receipt.gross_minor, receipt.card_last4) == (
        "WP/2026/000001",
        6940,
        "4242",
    )
    assert receipt.card_brand.lower() == "visa"
    # Billing again asks Stripe for nothing more.
    again = container.session_billing.bill_ended_session(session, row.id, clock())
    assert again.receipt_id == receipt.id
    assert len(stripe_env.intents(intent["customer"])) == 1
