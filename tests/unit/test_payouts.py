"""Payouts of settlements to operators with the fake payout gateway (a fake of our own
port) and an in-memory database: Stripe transfers, crashes, outages, refusals, and bank
transfers confirmed by platform staff."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

import backend.db.models  # noqa: F401  (every table on the metadata)
from backend.adapters.fake_payouts import FakePayouts, SimulatedCrash
from backend.db import Base, make_engine, make_session_factory
from backend.db.models import Operator
from backend.db.models.settlements import Payout, Settlement
from backend.errors import Conflict, InvalidInput, NotFound
from backend.services import payouts
from tests import factories as f

NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
ACCOUNT = "acct_1XenonOperator"
_numbers = itertools.count(1)


@pytest.fixture
def factory() -> Iterator[sessionmaker[Session]]:
    engine = make_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def s(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session:
        yield session


@pytest.fixture
def gw() -> FakePayouts:
    return FakePayouts()


def operator(s: Session, account: str = ACCOUNT) -> Operator:
    op = f.operator(s).operator
    op.stripe_account_id = account
    s.flush()
    return op


def settlement(
    s: Session, op: Operator, *, direction: str = "payout", gross: int = 17099
) -> Settlement:
    """domain.md §6, P1 residential: payout 139.02 net + 31.97 VAT = 170.99 gross."""
    st = Settlement(
        number=f"WP/R/2026/{next(_numbers):06d}", operator_id=op.id, period="2026-11",
        business_case="P1", currency="PLN", vat_rate=Decimal("0.23"), terms="{}",
        charge_points=1, energy_kwh=Decimal("120.000"), revenue_net_minor=14634,
        fee_net_minor=732, direction=direction, net_minor=13902, vat_minor=3197,
        gross_minor=gross, lines="[]",
    )  # fmt: skip
    s.add(st)
    s.flush()
    return st


def opened(s: Session, *, account: str = ACCOUNT, connect: bool = True) -> Payout:
    op = operator(s, account)
    p = payouts.open_payout(s, settlement(s, op), op, connect=connect)
    assert p is not None
    s.commit()
    return p


# --- opening ---------------------------------------------------------------------------------


def test_a_payout_settlement_opens_a_stripe_payout_of_its_gross(s):
    op = operator(s)
    st = settlement(s, op)
    p = payouts.open_payout(s, st, op, connect=True)
    assert p is not None and p.id is not None  # flushed inside the caller's transaction
    assert (p.amount_minor, p.currency, p.method, p.status) == (17099, "PLN", "stripe", "pending")
    assert (p.destination, p.idempotency_key) == (ACCOUNT, f"wp-payout-{st.id}")
    assert payouts.open_payout(s, st, op, connect=True) is p  # never two for a settlement


@pytest.mark.parametrize(("account", "connect"), [("", True), (ACCOUNT, False)])
def test_without_connect_or_an_account_the_payout_is_a_bank_transfer(s, account, connect):
    p = opened(s, account=account, connect=connect)
    assert (p.method, p.status, p.destination) == ("bank", "to_transfer", "")


@pytest.mark.parametrize(("direction", "gross"), [("invoice", 4059), ("carried", 0), ("payout", 0)])
def test_settlements_that_pay_nothing_open_no_payout(s, direction, gross):
    op = operator(s)
    assert payouts.open_payout(s, settlement(s, op, direction=direction, gross=gross), op,
                               connect=True) is None  # fmt: skip
    assert s.scalar(select(Payout)) is None


# --- Stripe ------------------------------------------------------------------------------------


def test_a_stripe_payout_is_transferred_once_and_paid(s, gw):
    p = opened(s)
    done = payouts.send(s, gw, p, NOW)
    assert (done.status, done.paid_at, done.attempts, done.failure) == ("paid", NOW, 1, "")
    [t] = gw.transfers.values()
    assert done.provider_id == t.info.id
    assert (t.info.destination, t.info.amount_minor, t.info.currency) == (ACCOUNT, 17099, "PLN")
    assert (t.transfer_group, t.idempotency_key) == (f"wp-settlement-{p.settlement_id}",
                                                     p.idempotency_key)  # fmt: skip
    assert t.metadata["wattpass_payout_id"] == str(p.id)
    # Sending a paid payout again asks Stripe nothing.
    assert payouts.send(s, gw, p, NOW + timedelta(hours=1)).paid_at == NOW
    assert gw.calls == [f"find {p.idempotency_key}", f"transfer {p.idempotency_key}"]


def test_a_crash_after_stripe_transferred_is_reconciled_without_a_second_transfer(factory, gw):
    with factory() as s:
        p = opened(s)
        payout_id, key = p.id, p.idempotency_key
        gw.crash_after_next()
        with pytest.raises(SimulatedCrash):
            payouts.send(s, gw, p, NOW)
    # After the restart: the attempt was recorded before Stripe was asked, the outcome not.
    with factory() as s:
        p = s.get(Payout, payout_id)
        assert (p.status, p.attempts, p.provider_id) == ("pending", 1, "")
        assert payouts.send_pending(s, gw, NOW) == 1
        assert (p.status, p.attempts) == ("paid", 2)
    [made] = gw.made()
    assert p.provider_id == made.id
    assert gw.calls.count(f"transfer {key}") == 1  # found by its key, not transferred again


def test_stripe_unreachable_leaves_it_pending_and_the_job_pays_it_later(s, gw):
    p = opened(s)
    gw.outage_next()
    assert payouts.send(s, gw, p, NOW).status == "pending"
    assert p.failure == payouts.OUTAGE_NOTE and gw.made() == []
    later = NOW + timedelta(minutes=10)
    assert payouts.send_pending(s, gw, later) == 1
    assert (p.status, p.paid_at, p.attempts, p.failure) == ("paid", later, 2, "")
    assert len(gw.made()) == 1


def test_a_refused_transfer_fails_with_the_reason_and_is_retried_after_the_fix(s, gw):
    p = opened(s, account="acct_1Closed")
    gw.invalid_accounts.add("acct_1Closed")
    assert payouts.send(s, gw, p, NOW).status == "failed"
    assert p.failure == "No such connected account."
    assert payouts.send_pending(s, gw, NOW) == 0  # a failed payout waits for a person
    payouts.set_payout_account(s, p.operator_id, ACCOUNT)
    done = payouts.retry(s, gw, p.id, NOW + timedelta(days=1))
    assert (done.status, done.destination, done.failure) == ("paid", ACCOUNT, "")
    assert [t.destination for t in gw.made()] == [ACCOUNT]


def test_a_refusal_message_is_kept_in_words(s, gw):
    p = opened(s)
    gw.fail_next("The platform's Stripe balance is too low for this transfer.")
    payouts.send(s, gw, p, NOW)
    assert (p.status, p.failure) == ("failed", "The platform's Stripe balance is too low "
                                               "for this transfer.")  # fmt: skip


def test_a_reversed_transfer_found_by_its_key_is_not_counted_as_paid(s, gw):
    p = opened(s)
    payouts.send(s, gw, p, NOW)
    gw.reverse(p.provider_id)
    p.status = "pending"  # as if our commit of "paid" had been lost
    s.commit()
    assert payouts.send(s, gw, p, NOW).status == "failed"
    assert "reversed" in p.failure and len(gw.made()) == 1


def test_retry_refuses_what_is_not_a_failed_stripe_payout(s, gw):
    paid = opened(s)
    payouts.send(s, gw, paid, NOW)
    with pytest.raises(Conflict):
        payouts.retry(s, gw, paid.id, NOW)
    bank = opened(s, account="")
    with pytest.raises(Conflict):
        payouts.retry(s, gw, bank.id, NOW)
    with pytest.raises(Conflict):  # Connect is off: nothing to retry with
        payouts.retry(s, None, paid.id, NOW)
    with pytest.raises(NotFound):
        payouts.retry(s, gw, 2**40, NOW)


def test_no_gateway_sends_nothing_and_bank_payouts_are_never_sent(s, gw):
    stripe_payout, bank = opened(s), opened(s, account="")
    assert payouts.send_pending(s, None, NOW) == 0
    assert stripe_payout.status == "pending"
    payouts.send(s, gw, bank, NOW)
    assert (bank.status, bank.attempts, gw.calls) == ("to_transfer", 0, [])


# --- bank transfers ----------------------------------------------------------------------------


def test_a_bank_payout_is_confirmed_once_with_its_reference(s):
    p = opened(s, account="")
    done = payouts.confirm_bank_transfer(s, p.id, "  WP-PAYOUT-2026-11  ", 7, NOW)
    assert (done.status, done.reference, done.paid_at) == ("paid", "WP-PAYOUT-2026-11", NOW)
    again = payouts.confirm_bank_transfer(s, p.id, "WP-PAYOUT-2026-11", 7, NOW + timedelta(1))
    assert again.paid_at == NOW  # the same confirmation again changes nothing
    with pytest.raises(Conflict, match="WP-PAYOUT-2026-11"):
        payouts.confirm_bank_transfer(s, p.id, "ANOTHER-REF", 7, NOW)
    with pytest.raises(InvalidInput):
        payouts.confirm_bank_transfer(s, p.id, "   ", 7, NOW)


def test_a_stripe_payout_under_way_cannot_be_confirmed_as_a_bank_transfer(s, gw):
    p = opened(s)
    with pytest.raises(Conflict, match="under way"):
        payouts.confirm_bank_transfer(s, p.id, "REF-1", 7, NOW)
    gw.fail_next("Stripe refused the transfer.")
    payouts.send(s, gw, p, NOW)
    # Failed at Stripe: the platform may pay it by bank instead.
    done = payouts.confirm_bank_transfer(s, p.id, "REF-1", 7, NOW)
    assert (done.method, done.status, done.reference) == ("bank", "paid", "REF-1")
    with pytest.raises(Conflict):
        payouts.retry(s, gw, p.id, NOW)


def test_the_payout_account_must_look_like_a_stripe_account(s):
    op = operator(s, "")
    s.commit()
    for bad in ("acct_", "acct_12-34", "ba_123", "acct_" + "x" * 60):
        with pytest.raises(InvalidInput):
            payouts.set_payout_account(s, op.id, bad)
    assert payouts.set_payout_account(s, op.id, "acct_1AbC").stripe_account_id == "acct_1AbC"
    assert payouts.set_payout_account(s, op.id, "").stripe_account_id == ""
