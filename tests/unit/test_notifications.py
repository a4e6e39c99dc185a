"""Notify, the push queue and reminders, with a fake notifier (a subclass of our port).

The database is SQLite in memory (the embedded default's engine, no file, no server);
the same use cases run on PostgreSQL in tests/integration.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from backend.db import Base, make_engine, make_session_factory
from backend.db.models import CompanyCode, Device, Notification, NotificationDelivery
from backend.db.models.enums import Role
from backend.services import devices
from backend.services import notification_events as ev
from backend.services.notification_delivery import RetryPolicy
from backend.services.notifications import Notifications, inbox, mark_read, unread_count
from backend.services.notifier import Notifier, SendOutcome, SendResult
from shared.money import Money
from tests import factories as f
from tests.conftest import FakeClock

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Sent:
    token: str
    title: str
    body: str
    data: dict[str, str]


class FakeNotifier(Notifier):
    """Delivers into a list; a token can be scripted to fail, die or raise first."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.calls: list[str] = []
        self.script: dict[str, list[SendResult | Exception]] = defaultdict(list)

    def then(self, token: str, *results: SendResult | Exception) -> None:
        self.script[token].extend(results)

    def send(self, token: str, title: str, body: str, data: Mapping[str, str]) -> SendResult:
        self.calls.append(token)
        if self.script[token]:
            result = self.script[token].pop(0)
            if isinstance(result, Exception):
                raise result
            if result.outcome != SendOutcome.SENT:
                return result
        self.sent.append(Sent(token, title, body, dict(data)))
        return SendResult.sent(f"fake-{len(self.sent)}")

    def bodies(self, token: str) -> list[str]:
        return [m.body for m in self.sent if m.token == token]


@pytest.fixture
def s() -> Iterator[Session]:
    engine = make_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def fake() -> FakeNotifier:
    return FakeNotifier()


@pytest.fixture
def service(fake: FakeNotifier, clock: FakeClock) -> Notifications:
    return Notifications(fake, clock)


@pytest.fixture
def driver(s: Session):  # type: ignore[no-untyped-def]
    u = f.user(s, Role.DRIVER)  # a Polish-speaking driver
    s.commit()
    return u


def device(s: Session, user, token: str, language: str | None = None) -> Device:  # type: ignore[no-untyped-def]
    return devices.register_device(s, user.id, token, "android", language, T0).device


def ended(n: int = 1) -> ev.SessionEnded:
    return ev.SessionEnded(n, "Galeria", Decimal("12.345"), Money.of("45.10", "PLN"))


def deliveries(s: Session) -> list[NotificationDelivery]:
    s.expire_all()
    return list(s.scalars(select(NotificationDelivery).order_by(NotificationDelivery.id)))


# --- record first, then push ------------------------------------------------------------


def test_notify_keeps_it_in_the_inbox_and_pushes_it_at_once(s, service, fake, driver):
    device(s, driver, "phone")
    note = service.notify(s, driver.id, ended(7))

    assert note is not None and note.kind == "session_ended" and note.language == "pl"
    assert note.body == "Naładowano 12,35 kWh na stacji Galeria. Koszt: 45,10 PLN."
    assert fake.sent == [
        Sent(
            "phone",
            "Sesja ładowania zakończona",
            note.body,
            {"kind": "session_ended", "notification_id": str(note.id), "session_id": "7"},
        )
    ]
    assert [d.status for d in deliveries(s)] == ["sent"]
    assert unread_count(s, driver.id) == 1


def test_each_device_gets_its_own_language_the_inbox_the_users(s, service, fake, driver):
    device(s, driver, "polish-phone")
    device(s, driver, "english-tablet", language="en")
    note = service.notify(s, driver.id, ended())
    assert note is not None and note.language == "pl"
    assert fake.bodies("polish-phone") == [note.body]
    assert fake.bodies("english-tablet") == ["You charged 12.35 kWh at Galeria. Total: 45.10 PLN."]


def test_a_user_without_devices_still_has_the_inbox(s, service, fake, driver):
    assert service.notify(s, driver.id, ended()) is not None
    assert fake.calls == []
    assert inbox(s, driver.id, page=1, page_size=10).total == 1


def test_notifying_an_unknown_user_records_nothing_and_does_not_raise(s, service, fake):
    assert service.notify(s, 424242, ended()) is None
    assert s.scalars(select(Notification)).all() == []


# --- failure isolation and back-off -----------------------------------------------------


def test_a_notifier_that_raises_never_reaches_the_caller(s, service, fake, driver, clock):
    device(s, driver, "phone")
    fake.then("phone", RuntimeError("FCM exploded"))

    note = service.notify(s, driver.id, ended())  # must not raise

    assert note is not None
    [d] = deliveries(s)
    assert (d.status, d.attempts, d.last_error) == ("pending", 1, "RuntimeError")
    assert d.next_attempt_at == clock() + timedelta(seconds=30)
    # The caller's session is still usable.
    assert inbox(s, driver.id, page=1, page_size=10).total == 1


def test_failed_sends_are_retried_with_doubling_delays(s, service, fake, driver, clock):
    device(s, driver, "phone")
    fake.then("phone", *[SendResult.failed("UNAVAILABLE")] * 3)
    service.notify(s, driver.id, ended())

    waits = []
    for _ in range(3):
        [d] = deliveries(s)
        if d.status == "sent":
            break
        wait = d.next_attempt_at - clock()
        waits.append(wait)
        clock.advance(seconds=wait.total_seconds() - 1)
        assert service.deliver_pending(s, clock()).attempted == 0  # not due yet
        clock.advance(seconds=1)
        service.deliver_pending(s, clock())

    assert waits == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    [d] = deliveries(s)
    assert (d.status, d.attempts, d.last_error) == ("sent", 4, None)
    assert len(fake.bodies("phone")) == 1


def test_delays_are_capped_and_a_delivery_is_given_up_in_the_end():
    policy = RetryPolicy()
    assert [policy.delay(n).total_seconds() for n in range(1, 9)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1800,
        1800,
    ]


def test_after_the_last_attempt_the_queue_moves_on(s, fake, driver, clock):
    service = Notifications(fake, clock, policy=RetryPolicy(max_attempts=2))
    device(s, driver, "phone")
    fake.then("phone", SendResult.failed("INTERNAL"), SendResult.failed("INTERNAL"))
    service.notify(s, driver.id, ended(1))
    service.notify(s, driver.id, ended(2))  # waits behind the first
    clock.advance(minutes=1)
    report = service.deliver_pending(s, clock())

    assert (report.gave_up, report.sent) == (1, 1)
    assert [(d.status, d.attempts) for d in deliveries(s)] == [("failed", 2), ("sent", 1)]
    assert [m.data["session_id"] for m in fake.sent] == ["2"]


# --- order ------------------------------------------------------------------------------


def test_a_device_gets_a_users_notifications_in_order(s, service, fake, driver, clock):
    device(s, driver, "phone")
    fake.then("phone", SendResult.failed("UNAVAILABLE"))
    for n in (1, 2, 3):
        service.notify(s, driver.id, ended(n))
        clock.advance(seconds=5)

    # The first failed; the later ones did not overtake it.
    assert fake.sent == []
    clock.advance(seconds=30)
    report = service.deliver_pending(s, clock())

    assert report.sent == 3
    assert [m.data["session_id"] for m in fake.sent] == ["1", "2", "3"]
    assert fake.calls == ["phone"] * 4


def test_one_failing_device_does_not_hold_back_the_others(s, service, fake, driver):
    device(s, driver, "broken")
    device(s, driver, "fine")
    fake.then("broken", SendResult.failed("UNAVAILABLE"))
    service.notify(s, driver.id, ended(1))
    service.notify(s, driver.id, ended(2))
    assert [m.data["session_id"] for m in fake.sent if m.token == "fine"] == ["1", "2"]
    assert fake.bodies("broken") == []


def test_a_claimed_delivery_is_not_sent_twice_by_a_second_run(s, fake, driver, clock):
    """A second worker running while the first one is sending finds nothing to do."""
    service = Notifications(fake, clock, deliver_inline=False)
    device(s, driver, "phone")
    service.notify(s, driver.id, ended())
    second_run = []

    class Reentrant(FakeNotifier):
        def send(self, token, title, body, data):  # type: ignore[no-untyped-def]
            with Session(bind=s.get_bind()) as other:
                second_run.append(service.deliver_pending(other, clock()).attempted)
            return fake.send(token, title, body, data)

    Notifications(Reentrant(), clock).deliver_pending(s, clock())
    assert second_run == [0]
    assert len(fake.sent) == 1


def test_a_worker_that_died_mid_send_is_replaced_when_its_lease_ends(s, fake, driver, clock):
    service = Notifications(fake, clock, deliver_inline=False)
    device(s, driver, "phone")
    service.notify(s, driver.id, ended())

    class Dies(Notifier):
        def send(self, token, title, body, data):  # type: ignore[no-untyped-def]
            raise SystemExit("worker killed")

    with pytest.raises(SystemExit):
        Notifications(Dies(), clock).deliver_pending(s, clock())
    s.rollback()
    assert service.deliver_pending(s, clock() + timedelta(minutes=4)).attempted == 0
    assert service.deliver_pending(s, clock() + timedelta(minutes=5)).sent == 1
    assert deliveries(s)[0].attempts == 2


# --- dead tokens ------------------------------------------------------------------------


def test_an_unregistered_token_is_forgotten_with_its_queue(s, service, fake, driver, clock):
    device(s, driver, "uninstalled")
    device(s, driver, "phone")
    fake.then("uninstalled", SendResult.failed("UNAVAILABLE"), SendResult.unregistered())
    service.notify(s, driver.id, ended(1))
    service.notify(s, driver.id, ended(2))  # queued behind the failure
    clock.advance(minutes=1)
    report = service.deliver_pending(s, clock())

    assert report.unregistered == 1
    assert [d.token for d in devices.list_devices(s, driver.id)] == ["phone"]
    assert {d.device_id for d in deliveries(s)} == {devices.list_devices(s, driver.id)[0].id}
    service.notify(s, driver.id, ended(3))
    assert "uninstalled" not in fake.calls[-1:]
    assert [m.data["session_id"] for m in fake.sent] == ["1", "2", "3"]


# --- who is told ------------------------------------------------------------------------


def test_operator_staff_are_told_in_english_each_in_their_inbox(s, service, fake, clock):
    op = f.operator(s)
    other = f.operator(s)
    alice = f.user(s, Role.OPERATOR_STAFF, operator_id=op.operator.id)
    bob = f.user(s, Role.OPERATOR_STAFF, operator_id=op.operator.id)
    gone = f.user(s, Role.OPERATOR_STAFF, operator_id=op.operator.id)
    gone.is_active = False
    stranger = f.user(s, Role.OPERATOR_STAFF, operator_id=other.operator.id)
    s.commit()
    device(s, alice, "alice-phone")
    device(s, bob, "bob-phone", language="pl")

    notes = service.notify_operator_staff(
        s, op.operator.id, ev.ChargerFaulted(3, "CP-3", "Garage", "GroundFailure")
    )

    assert sorted(n.user_id for n in notes) == sorted([alice.id, bob.id])
    assert {n.body for n in notes} == {"Charger CP-3 at Garage reported a fault: GroundFailure."}
    assert fake.bodies("bob-phone") == ["Ładowarka CP-3 (Garage) zgłosiła awarię: GroundFailure."]
    assert unread_count(s, stranger.id) == 0 and unread_count(s, gone.id) == 0


def test_a_token_that_changes_hands_takes_nothing_of_the_old_owner_along(s, fake, driver, clock):
    service = Notifications(fake, clock, deliver_inline=False)
    device(s, driver, "second-hand-phone")
    service.notify(s, driver.id, ended(1))  # queued, not yet sent
    buyer = f.user(s, Role.DRIVER)
    s.commit()

    moved = devices.register_device(s, buyer.id, "second-hand-phone", "ios", None, T0)

    assert moved.created and moved.device.user_id == buyer.id
    assert devices.list_devices(s, driver.id) == []
    service.deliver_pending(s, clock())
    assert fake.sent == []  # the seller's session never reaches the buyer


# --- inbox ------------------------------------------------------------------------------


def test_reading_a_notification(s, service, driver, clock):
    first = service.notify(s, driver.id, ended(1))
    service.notify(s, driver.id, ended(2))
    assert first is not None
    clock.advance(minutes=1)
    assert mark_read(s, driver.id, first.id, clock()).read_at == clock()
    assert mark_read(s, driver.id, first.id, clock() + timedelta(hours=1)).read_at == clock()
    assert unread_count(s, driver.id) == 1
    page = inbox(s, driver.id, page=1, page_size=10)
    assert [n.data["session_id"] for n in page.items] == ["2", "1"]  # newest first


# --- reminders for temporary codes ------------------------------------------------------


def _guest(s, driver, *, kind="temporary", ends_in=timedelta(hours=5), starts_at=None):  # type: ignore[no-untyped-def]
    setup = f.operator(s, "Hotel Bristol")
    site = f.site(s, setup, visibility="private")
    code = CompanyCode(
        operator_id=setup.operator.id,
        code_hash=f"hash-{setup.operator.id}",
        hint="ABCD",
        kind=kind,
        price_group_id=setup.company.id,
        billing_mode="operator_invoiced",
        timezone="Europe/Warsaw",
        valid_from=T0 - timedelta(days=1),
        valid_until=T0 + ends_in,
    )
    s.add(code)
    s.flush()
    m = f.membership(s, driver, setup, [site], ends_at=T0 + ends_in, starts_at=starts_at)
    m.company_code_id = code.id
    s.commit()
    return m


def test_a_guest_is_reminded_once_that_the_code_expires(s, service, fake, driver, clock):
    device(s, driver, "phone")
    m = _guest(s, driver, ends_in=timedelta(hours=5))

    assert service.remind_expiring_codes(s, clock()) == 1
    assert service.remind_expiring_codes(s, clock()) == 0
    clock.advance(hours=1)
    assert service.remind_expiring_codes(s, clock()) == 0

    [note] = inbox(s, driver.id, page=1, page_size=10).items
    assert note.kind == "code_expiring"
    assert note.body.endswith("wygaśnie za 5 godzin.")
    assert note.data == {"membership_id": str(m.id), "ends_at": m.ends_at.isoformat()}
    assert len(fake.sent) == 1


def test_only_temporary_codes_ending_within_the_window_are_reminded(s, service, driver, clock):
    later = _guest(s, driver, ends_in=timedelta(hours=30))
    _guest(s, driver, kind="permanent", ends_in=timedelta(hours=3))
    left = _guest(s, driver, ends_in=timedelta(hours=3))
    left.revoked_at = T0 - timedelta(minutes=1)  # the guest left early
    _guest(s, driver, ends_in=timedelta(hours=10), starts_at=T0 + timedelta(hours=2))
    s.commit()

    assert service.remind_expiring_codes(s, clock()) == 0
    clock.advance(hours=2)  # the not-yet-started one has started; 8 h left
    assert service.remind_expiring_codes(s, clock()) == 1
    clock.advance(hours=6)  # 22 h left on the later one
    assert service.remind_expiring_codes(s, clock()) == 1
    bodies = [n.body for n in inbox(s, driver.id, page=1, page_size=10).items]
    assert bodies[0].endswith("za 22 godziny.") and bodies[1].endswith("za 8 godzin.")
    assert str(later.id) in inbox(s, driver.id, page=1, page_size=10).items[0].data.values()
