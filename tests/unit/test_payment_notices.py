"""A driver hears once per payment state that a payment was declined or needs 3-D Secure,
whichever path finds it: billing, the billing sweep, a retry, the app's re-read, Stripe's
webhooks (late, replayed, out of order, about an answer that was lost). A session whose
payment needs 3-D Secure asks the driver once, for one payment, and is then paid.

The fake of our payment port, the real notification service with a fake push notifier,
an in-memory database."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

import backend.db.models  # noqa: F401  (every table on the metadata)
from backend.adapters.fake_payments import DECLINE_WHEN_CHARGED, NEEDS_3DS, FakeGateway
from backend.db import Base, make_engine, make_session_factory
from backend.db.models import Notification, Payment, PaymentCard, Receipt, SessionCharge
from backend.db.models.payments import StripeEvent
from backend.services import cards, devices, payment_history, webhooks
from backend.services import notification_events as ev
from backend.services import notification_texts as texts
from backend.services.billing import SessionBilling
from backend.services.notifications import Notifications
from backend.services.notifier import Notifier, SendResult
from backend.services.payment_gateway import AuthenticationRequired, PaymentProviderUnavailable
from backend.services.payments import Billing
from backend.services.receipts import Seller
from shared.money import Money
from tests.conftest import FakeClock
from tests.integration.test_billing_support import driver, ended_session, local, place, price

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
HOLDS = {"PLN": Decimal("100.00")}
THREE_DS = next(iter(NEEDS_3DS))
DECLINED = next(iter(DECLINE_WHEN_CHARGED))


class Phone(Notifier):
    """Pushes land in a list, in the order sent."""

    def __init__(self) -> None:
        self.pushed: list[dict[str, str]] = []

    def send(self, token: str, title: str, body: str, data: Mapping[str, str]) -> SendResult:
        self.pushed.append(dict(data))
        return SendResult.sent()


class Exploding:
    """A notification service that fails at everything."""

    def notify(self, *args: object, **kwargs: object) -> object:
        raise RuntimeError("notifications are down")


@pytest.fixture
def s() -> Iterator[Session]:
    engine = make_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture
def gw() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def payments(gw: FakeGateway) -> Billing:
    return Billing(gw, HOLDS)


@pytest.fixture
def phone() -> Phone:
    return Phone()


@pytest.fixture
def notes(phone: Phone) -> Notifications:
    return Notifications(phone, FakeClock(NOW))


@pytest.fixture
def billing(payments: Billing, notes: Notifications) -> SessionBilling:
    return SessionBilling(payments, Seller("Wattpass sp. z o.o.", "Warszawa", "PL1"), notes)


@pytest.fixture
def world(s: Session):  # type: ignore[no-untyped-def]
    """A hotel site at 2.40 PLN/kWh, per_session (and one billed monthly), a driver with
    a phone."""
    p = place(s)
    v = price(s, p, energy="2.40")
    block = place(s, name="Osiedle Zielone")
    price(s, block, energy="1.50", billing_mode="monthly")
    u = driver(s)
    s.commit()
    devices.register_device(s, u.id, "phone", "android", None, NOW)
    return p, v, block, u


def give_card(s: Session, gw: FakeGateway, user_id: int, number: str) -> str:
    """A card saved by the app, made the default."""
    pm = gw.add_card(cards.customer_id(s, gw, user_id), number)
    cards.sync_cards(s, gw, user_id, NOW)
    card = s.scalar(select(PaymentCard).where(PaymentCard.stripe_payment_method_id == pm))
    cards.set_default(s, gw, user_id, card.id)
    return pm


def session_of(s, world, *, wh: int = 5_000, monthly: bool = False):  # type: ignore[no-untyped-def]
    """An ended session with no hold placed at its start (an RFID start)."""
    p, v, block, u = world
    return ended_session(s, block if monthly else p, u, start=local(2026, 11, 20, 18, 0),
                         end=local(2026, 11, 20, 19, 0), wh=wh,
                         version=None if monthly else v)  # fmt: skip


def inbox(s: Session, user_id: int) -> list[tuple[str, dict[str, str]]]:
    s.expire_all()
    rows = s.scalars(
        select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)
    )
    return [(n.kind, n.data) for n in rows]


def pushed(phone: Phone) -> list[tuple[str, str | None]]:
    return [(d["kind"], d.get("payment_id")) for d in phone.pushed]


def hook(s, gw, payments, notifications, kind, intent_id, event_id=None):  # type: ignore[no-untyped-def]
    """Stripe's webhook about an intent, as the endpoint hands it over."""
    body = json.dumps(
        {
            "id": event_id or f"evt_{kind}_{intent_id}",
            "type": kind,
            "data": {"object": {"id": intent_id, "object": "payment_intent"}},
        }
    ).encode()
    event = gw.parse_webhook(body, "fake-signature")
    return webhooks.handle(s, gw, payments, event, NOW, notifications)


def auth(p: Payment, session_id: int | None = None) -> tuple[str, dict[str, str]]:
    data = {"payment_id": str(p.id)} | ({"session_id": str(session_id)} if session_id else {})
    return ("authentication_needed", data)


def failed(p: Payment, session_id: int | None = None) -> tuple[str, dict[str, str]]:
    data = {"payment_id": str(p.id)} | ({"session_id": str(session_id)} if session_id else {})
    return ("payment_failed", data)


def ended(session_id: int) -> tuple[str, dict[str, str]]:
    return ("session_ended", {"session_id": str(session_id)})


def assert_text(s: Session, kind: str, event: ev.NotificationEvent) -> None:
    """The one inbox entry of `kind` says what `event` says, in the driver's language."""
    [note] = s.scalars(select(Notification).where(Notification.kind == kind)).all()
    shown = texts.render(event, note.language)
    assert (note.title, note.body, note.data) == (shown.title, shown.body, event.data())


# --- a session's payment that needs 3-D Secure: asked once, for one payment -----------------


@pytest.mark.parametrize(("wh", "gross"), [(5_000, 1200), (60_000, 14400)])  # below / above hold
def test_3d_secure_at_the_session_end_is_one_payment_confirmed_once(
    s, gw, payments, notes, billing, world, phone, wh, gross
):
    u = world[3]
    give_card(s, gw, u.id, THREE_DS)
    row = session_of(s, world, wh=wh)
    assert billing.bill_ended_session(s, row.id, NOW).status == "payment_pending"
    [hold] = s.scalars(select(Payment)).all()
    # The one payment: exactly what the session cost, not the start's hold amount.
    assert (hold.kind, hold.status, hold.amount_minor) == ("hold", "requires_authentication", gross)
    asked = ev.AuthenticationNeeded(Money(gross, "PLN"), hold.id, row.id)
    assert_text(s, "authentication_needed", asked)

    # Sweeps, a repeated end, Stripe's own event: nothing new is asked, nothing voided.
    for _ in range(2):
        billing.bill_pending(s, NOW)
    billing.bill_ended_session(s, row.id, NOW)
    intent = hold.stripe_payment_intent_id
    assert hook(s, gw, payments, notes, "payment_intent.requires_action", intent) == "processed"
    assert [p.id for p in s.scalars(select(Payment))] == [hold.id]
    assert gw.intents[hold.stripe_payment_intent_id].info.status == "requires_action"
    assert inbox(s, u.id) == [ended(row.id), auth(hold, row.id)]

    gw.authenticate(hold.stripe_payment_intent_id)  # the driver confirms it in the app
    billing.bill_pending(s, NOW)
    charge = s.scalar(select(SessionCharge).where(SessionCharge.session_id == row.id))
    assert (charge.status, hold.status, hold.captured_minor) == ("paid", "captured", gross)
    assert s.get(Receipt, charge.receipt_id).gross_minor == gross
    assert gw.intents[hold.stripe_payment_intent_id].captured == gross and len(gw.intents) == 1
    assert inbox(s, u.id) == [ended(row.id), auth(hold, row.id)]
    assert pushed(phone) == [("session_ended", None), ("authentication_needed", str(hold.id))]


def test_a_failed_3d_secure_is_told_once_and_not_asked_again(
    s, gw, payments, notes, billing, world, phone
):
    u = world[3]
    give_card(s, gw, u.id, THREE_DS)
    row = session_of(s, world)
    billing.bill_ended_session(s, row.id, NOW)
    hold = s.scalar(select(Payment))
    gw.authenticate(hold.stripe_payment_intent_id, success=False)  # the driver fails it

    intent = hold.stripe_payment_intent_id
    assert hook(s, gw, payments, notes, "payment_intent.payment_failed", intent) == "processed"
    assert inbox(s, u.id) == [ended(row.id), auth(hold, row.id), failed(hold, row.id)]
    # Replayed, under a new id, and older news arriving late: nothing more.
    assert hook(s, gw, payments, notes, "payment_intent.payment_failed", intent) == "duplicate"
    hook(s, gw, payments, notes, "payment_intent.payment_failed", intent, "evt_again")
    hook(s, gw, payments, notes, "payment_intent.requires_action", intent, "evt_late")
    for _ in range(2):
        billing.bill_pending(s, NOW)
    charge = s.scalar(select(SessionCharge))
    assert (charge.status, hold.status, hold.attempt, len(gw.intents)) == (
        "payment_failed",
        "failed",
        1,
        1,
    )
    assert inbox(s, u.id) == [ended(row.id), auth(hold, row.id), failed(hold, row.id)]
    assert [k for k, _ in pushed(phone)] == [
        "session_ended",
        "authentication_needed",
        "payment_failed",
    ]


def test_without_webhooks_the_sweep_finds_the_failed_3d_secure_and_tells_it_once(
    s, gw, billing, world
):
    u = world[3]
    give_card(s, gw, u.id, THREE_DS)
    row = session_of(s, world)
    billing.bill_ended_session(s, row.id, NOW)
    hold = s.scalar(select(Payment))
    gw.authenticate(hold.stripe_payment_intent_id, success=False)
    for _ in range(2):
        billing.bill_pending(s, NOW)
    assert (s.scalar(select(SessionCharge)).status, hold.attempt) == ("payment_failed", 1)
    assert inbox(s, u.id) == [ended(row.id), auth(hold, row.id), failed(hold, row.id)]


def test_above_an_authorized_hold_the_second_payment_is_the_only_one_asked_for(
    s, gw, payments, notes, billing, world, phone
):
    u = world[3]
    give_card(s, gw, u.id, THREE_DS)
    row = session_of(s, world, wh=60_000)  # 144.00, above the 100.00 hold
    # The app start: the bank wants the hold confirmed, the app does it, the start goes on.
    start_ref = -7  # an app start's payments, before the charger's session exists
    with pytest.raises(AuthenticationRequired):
        payments.place_hold(s, start_ref, u.id, "PLN", NOW)
    hold = s.scalar(select(Payment))
    # Stripe's event about it is no driver notice: the app was answered at the start.
    hook(s, gw, payments, notes, "payment_intent.requires_action", hold.stripe_payment_intent_id)
    gw.authenticate(hold.stripe_payment_intent_id)
    assert payments.place_hold(s, start_ref, u.id, "PLN", NOW).status == "authorized"
    hold.session_ref = row.id  # linked to the session (session_commands.link)
    s.commit()
    assert inbox(s, u.id) == []

    billing.bill_ended_session(s, row.id, NOW)
    extra = s.scalar(select(Payment).where(Payment.kind == "extra"))
    assert (hold.status, hold.captured_minor) == ("captured", 10000)
    assert (extra.status, extra.amount_minor) == ("requires_authentication", 4400)
    billing.bill_pending(s, NOW)
    assert inbox(s, u.id) == [ended(row.id), auth(extra, row.id)]

    gw.authenticate(extra.stripe_payment_intent_id)
    hook(s, gw, payments, notes, "payment_intent.succeeded", extra.stripe_payment_intent_id)
    billing.bill_pending(s, NOW)
    charge = s.scalar(select(SessionCharge))
    assert (charge.status, charge.receipt_id is not None) == ("paid", True)
    assert inbox(s, u.id) == [ended(row.id), auth(extra, row.id)]
    assert pushed(phone) == [("session_ended", None), ("authentication_needed", str(extra.id))]


# --- webhooks: what Stripe says after it answered --------------------------------------------


def test_a_late_decline_reported_by_a_webhook_is_told_once(
    s, gw, payments, notes, billing, world, phone
):
    _, _, block, u = world
    give_card(s, gw, u.id, "4242424242424242")
    row = session_of(s, world, monthly=True)
    billing.bill_ended_session(s, row.id, NOW)
    gw.processing = True  # Stripe answers "processing" and decides later
    assert billing.close_month(s, u.id, block.site.id, "2026-11", NOW) is None
    monthly = s.scalar(select(Payment))
    assert monthly.status == "pending"
    assert inbox(s, u.id) == [ended(row.id)]

    gw.decide_later(monthly.stripe_payment_intent_id)  # the bank declines it after all
    intent = monthly.stripe_payment_intent_id
    assert hook(s, gw, payments, notes, "payment_intent.payment_failed", intent) == "processed"
    assert monthly.status == "failed"
    assert inbox(s, u.id) == [ended(row.id), failed(monthly)]
    assert_text(s, "payment_failed", ev.PaymentFailed(Money(750, "PLN"), None, monthly.id))

    # Twice, with a new id, an older event late, and the month's billing seeing it too.
    assert hook(s, gw, payments, notes, "payment_intent.payment_failed", intent) == "duplicate"
    hook(s, gw, payments, notes, "payment_intent.payment_failed", intent, "evt_retry_2")
    hook(s, gw, payments, notes, "payment_intent.processing", intent, "evt_old")
    billing.close_month(s, u.id, block.site.id, "2026-11", NOW)
    assert inbox(s, u.id) == [ended(row.id), failed(monthly)]
    assert pushed(phone) == [("session_ended", None), ("payment_failed", str(monthly.id))]


def test_a_lost_answer_is_told_when_the_webhook_finds_it_by_its_key(
    s, gw, payments, notes, billing, world, phone
):
    _, _, block, u = world
    give_card(s, gw, u.id, THREE_DS)
    row = session_of(s, world, monthly=True)
    billing.bill_ended_session(s, row.id, NOW)
    gw.lose_next_answer()  # Stripe asked for 3-D Secure; the answer never reached us
    with pytest.raises(PaymentProviderUnavailable):
        billing.close_month(s, u.id, block.site.id, "2026-11", NOW)
    monthly = s.scalar(select(Payment))
    assert (monthly.status, monthly.stripe_payment_intent_id) == ("pending", None)
    [intent] = gw.intents

    assert hook(s, gw, payments, notes, "payment_intent.requires_action", intent) == "processed"
    assert inbox(s, u.id) == [ended(row.id), auth(monthly)]
    billing.close_month(s, u.id, block.site.id, "2026-11", NOW)  # billing sees the same state
    assert inbox(s, u.id) == [ended(row.id), auth(monthly)]

    gw.authenticate(intent)
    hook(s, gw, payments, notes, "payment_intent.succeeded", intent)
    assert billing.close_month(s, u.id, block.site.id, "2026-11", NOW) is not None  # receipt
    assert inbox(s, u.id) == [ended(row.id), auth(monthly)]
    assert len(phone.pushed) == 2


def test_plan_payments_are_left_to_the_renewal_notices(s, gw, payments, notes, world):
    u = world[3]
    pm = give_card(s, gw, u.id, THREE_DS)
    info = gw.create_payment(customer_id=cards.customer_id(s, gw, u.id), payment_method_id=pm,
                             amount=4900, currency="PLN", manual_capture=False,
                             idempotency_key="plan-1", description="Plus", metadata={})  # fmt: skip
    s.add(Payment(driver_id=u.id, kind="plan", currency="PLN", amount_minor=4900,
                  idempotency_key="plan-1", stripe_payment_intent_id=info.id))  # fmt: skip
    s.commit()
    assert hook(s, gw, payments, notes, "payment_intent.requires_action", info.id) == "processed"
    assert s.scalar(select(Payment)).status == "requires_authentication"
    assert inbox(s, u.id) == []


# --- retries: each attempt is a state of its own -----------------------------------------------


def test_each_retry_that_does_not_go_through_is_told_once(
    s, gw, payments, notes, billing, world, phone
):
    _, _, block, u = world
    give_card(s, gw, u.id, DECLINED)
    row = session_of(s, world, monthly=True)
    billing.bill_ended_session(s, row.id, NOW)
    billing.close_month(s, u.id, block.site.id, "2026-11", NOW)
    monthly = s.scalar(select(Payment))
    assert (monthly.status, monthly.attempt) == ("failed", 1)
    first = failed(monthly)

    # The driver retries from the app: declined again, then a card whose bank wants 3DS.
    retried = payment_history.retry(s, payments, u.id, monthly.id, notifications=notes, now=NOW)
    assert (retried.payment.status, monthly.attempt) == ("failed", 2)
    give_card(s, gw, u.id, THREE_DS)
    retried = payment_history.retry(s, payments, u.id, monthly.id, notifications=notes, now=NOW)
    assert retried.payment.status == "requires_authentication"
    assert retried.client_secret == f"{monthly.stripe_payment_intent_id}_secret"
    # The app looks at it (a re-read), and at the list: nothing more.
    payment_history.get_payment(s, payments, u.id, monthly.id, notifications=notes, now=NOW)
    payment_history.list_payments(s, payments, u.id, None, None, notifications=notes, now=NOW)
    assert inbox(s, u.id) == [ended(row.id), first, failed(monthly), auth(monthly)]
    keys = s.scalars(select(Notification.dedupe_key).order_by(Notification.id)).all()
    assert keys[1:] == [f"payment_failed:{monthly.id}:1", f"payment_failed:{monthly.id}:2",
                        f"authentication_needed:{monthly.id}:3"]  # fmt: skip

    gw.authenticate(monthly.stripe_payment_intent_id)
    payment_history.get_payment(s, payments, u.id, monthly.id, notifications=notes, now=NOW)
    assert monthly.status == "succeeded"
    assert len(inbox(s, u.id)) == 4 and len(phone.pushed) == 4


def test_the_sweeps_retry_of_a_declined_session_is_told_per_attempt(s, gw, billing, world):
    u = world[3]
    give_card(s, gw, u.id, DECLINED)
    row = session_of(s, world)
    assert billing.bill_ended_session(s, row.id, NOW).status == "payment_failed"
    billing.bill_pending(s, NOW)  # declined ones wait for a deliberate retry
    hold = s.scalar(select(Payment))
    assert inbox(s, u.id) == [ended(row.id), failed(hold, row.id)]
    billing.bill_pending(s, NOW, retry_failed=True)
    assert hold.attempt == 2
    assert inbox(s, u.id) == [ended(row.id), failed(hold, row.id), failed(hold, row.id)]


# --- a notice that cannot be sent breaks nothing ------------------------------------------------


def test_a_failing_notification_service_never_breaks_a_payment_or_a_webhook(s, gw, payments, world):
    _, _, block, u = world
    give_card(s, gw, u.id, THREE_DS)
    monthly = payments.charge_period(s, u.id, block.site.id, "2026-11", 1500)
    gw.authenticate(monthly.stripe_payment_intent_id, success=False)
    intent = monthly.stripe_payment_intent_id
    assert (
        hook(s, gw, payments, Exploding(), "payment_intent.payment_failed", intent) == "processed"
    )
    assert (
        monthly.status,
        s.get(StripeEvent, f"evt_payment_intent.payment_failed_{intent}").status,
    ) == ("failed", "processed")
    give_card(s, gw, u.id, DECLINED)
    retried = payment_history.retry(s, payments, u.id, monthly.id, notifications=Exploding())
    assert (retried.payment.status, retried.payment.attempt) == ("failed", 2)
    assert inbox(s, u.id) == []
