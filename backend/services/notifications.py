"""Telling people what happened: the inbox is the truth, push is delivery.

Other services call, through the container (`container.notifications`):

    notify(s, user_id, event)                  # one user (a driver, usually)
    notify_operator_staff(s, operator_id, event)  # everyone on an operator's staff
    deliver_pending(s, now)                    # a worker: retry what is due
    remind_expiring_codes(s, now, within)      # a worker: temporary-code reminders

`notify` records first: the inbox row and one queued delivery per device of the user
are committed (with whatever the caller left uncommitted in `s` — call it once your
own change is saved). Then it tries to push right away. Nothing in it raises: a
notification failure never breaks a session or a payment. A push that failed waits
in the queue for `deliver_pending`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import Device, Driver, Notification, NotificationDelivery, User
from backend.db.models.enums import Role
from backend.errors import NotFound
from backend.services import notification_delivery as delivery
from backend.services import notification_reminders
from backend.services import notification_texts as texts
from backend.services.notification_events import NotificationEvent
from backend.services.notifier import Notifier
from backend.services.visibility import valid_id

log = logging.getLogger(__name__)

# How many of a user's queued pushes `notify` sends on the spot; the rest wait.
INLINE_LIMIT = 20


class Notifications:
    """The notification use cases, wired with a notifier and the platform clock."""

    def __init__(
        self,
        notifier: Notifier,
        clock: Callable[[], datetime],
        *,
        policy: delivery.RetryPolicy | None = None,
        deliver_inline: bool = True,
    ) -> None:
        self.notifier = notifier
        self.clock = clock
        self.policy = policy or delivery.RetryPolicy()
        self.deliver_inline = deliver_inline

    def notify(
        self,
        s: Session,
        user_id: int,
        event: NotificationEvent,
        *,
        now: datetime | None = None,
    ) -> Notification | None:
        """Put `event` in the user's inbox and push it to their devices; never raises.

        Returns the inbox entry (the existing one when the event's dedupe key was already
        used for this user), or None when nothing could be recorded.
        """
        now = now or self.clock()
        try:
            note = record(s, user_id, event, now)
        except IntegrityError:
            # Two runs raced to send a once-only notification; the other one recorded it.
            s.rollback()
            log.info("notification %s for user %s already recorded", event.kind, user_id)
            return None
        except Exception:
            s.rollback()
            log.exception("could not record notification %s for user %s", event.kind, user_id)
            return None
        if note is not None and self.deliver_inline:
            self._deliver(s, now, user_id)
        return note

    def notify_operator_staff(
        self, s: Session, operator_id: int, event: NotificationEvent
    ) -> list[Notification]:
        """Notify every active member of an operator's staff; never raises."""
        now = self.clock()
        try:
            staff = s.scalars(
                select(User.id)
                .where(
                    User.operator_id == operator_id,
                    User.role == Role.OPERATOR_STAFF.value,
                    User.is_active.is_(True),
                )
                .order_by(User.id)
            ).all()
        except Exception:
            s.rollback()
            log.exception("could not find the staff of operator %s", operator_id)
            return []
        notes = [self.notify(s, user_id, event, now=now) for user_id in staff]
        return [n for n in notes if n is not None]

    def deliver_pending(
        self, s: Session, now: datetime, *, limit: int = 200
    ) -> delivery.DeliveryReport:
        """Send every queued push that is due (retries with back-off, in order)."""
        return delivery.deliver_pending(s, self.notifier, now, policy=self.policy, limit=limit)

    def remind_expiring_codes(
        self, s: Session, now: datetime, within: timedelta = timedelta(hours=24)
    ) -> int:
        """Remind drivers once that their temporary-code access ends within `within`."""
        return notification_reminders.remind_expiring_codes(self.notify, s, now, within)

    def _deliver(self, s: Session, now: datetime, user_id: int) -> None:
        try:
            delivery.deliver_pending(
                s, self.notifier, now, policy=self.policy, user_id=user_id, limit=INLINE_LIMIT
            )
        except Exception:
            s.rollback()
            log.exception("push for user %s left for the next delivery run", user_id)


def language_of_user(s: Session, user: User) -> str:
    """Drivers choose their language; everybody else reads English."""
    if user.role == Role.DRIVER.value:
        driver = s.get(Driver, user.id)
        if driver is not None:
            return texts.language_of(driver.language)
    return texts.DEFAULT_LANGUAGE


def record(
    s: Session, user_id: int, event: NotificationEvent, now: datetime
) -> Notification | None:
    """The inbox entry and one queued delivery per device, committed."""
    user = s.get(User, user_id) if valid_id(user_id) else None
    if user is None:
        log.warning("notification %s for unknown user %s dropped", event.kind, user_id)
        return None
    key = event.dedupe_key()
    if key is not None:
        done = s.scalar(
            select(Notification).where(
                Notification.user_id == user_id, Notification.dedupe_key == key
            )
        )
        if done is not None:
            return done
    language = language_of_user(s, user)
    text = texts.render(event, language)
    note = Notification(
        user_id=user_id,
        kind=event.kind,
        language=language,
        title=text.title,
        body=text.body,
        data=event.data(),
        dedupe_key=key,
        created_at=now,
    )
    s.add(note)
    s.flush()
    if user.is_active:
        devices = s.scalars(select(Device).where(Device.user_id == user_id).order_by(Device.id))
        for device in devices:
            shown = (
                text
                if device.language in (None, language)
                else texts.render(event, device.language)
            )
            s.add(
                NotificationDelivery(
                    notification_id=note.id,
                    user_id=user_id,
                    device_id=device.id,
                    title=shown.title,
                    body=shown.body,
                    status=delivery.PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    s.commit()
    return note


# --- the inbox --------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxPage:
    items: list[Notification]
    total: int


def inbox(
    s: Session, user_id: int, *, page: int, page_size: int, unread_only: bool = False
) -> InboxPage:
    """The user's notifications, newest first."""
    where = [Notification.user_id == user_id]
    if unread_only:
        where.append(Notification.read_at.is_(None))
    total = s.scalar(select(func.count(Notification.id)).where(*where)) or 0
    items = s.scalars(
        select(Notification)
        .where(*where)
        .order_by(Notification.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return InboxPage(list(items), total)


def unread_count(s: Session, user_id: int) -> int:
    return (
        s.scalar(
            select(func.count(Notification.id)).where(
                Notification.user_id == user_id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


def mark_read(s: Session, user_id: int, notification_id: int, now: datetime) -> Notification:
    """Mark one of the user's notifications read (again is fine); others' are not found."""
    note = s.get(Notification, notification_id) if valid_id(notification_id) else None
    if note is None or note.user_id != user_id:
        raise NotFound("No such notification.")
    if note.read_at is None:
        note.read_at = now
    s.commit()
    return note


def mark_all_read(s: Session, user_id: int, now: datetime) -> int:
    result = s.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=now)
    )
    s.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
