"""The push queue: send what is due, in order per device, with back-off; drop dead tokens.

Rules:
- Each device gets a user's notifications in the order they happened: only the oldest
  pending delivery of a device (its head) is ever sent; the next waits until the head is
  sent or given up. One device failing does not hold back the user's other devices.
- A failed send is tried again after a delay that doubles each time (30 s, 1 min, 2 min,
  … at most 30 min); after `max_attempts` the delivery is given up (status "failed") and
  the device's queue moves on. The inbox still has the notification.
- A token FCM reports as UNREGISTERED is dead for good: the device is forgotten together
  with everything queued for it.
- A delivery is claimed before it is sent: `attempts` counted and `next_attempt_at` moved
  a lease ahead, committed. Several workers can run this at once (PostgreSQL skips rows
  another worker holds), and a worker that dies mid-send leaves the delivery to be tried
  again when the lease ends: delivery is at least once.
- Nothing here raises because of a notifier: an exception from one is a failed send.
- No database transaction is held open while a message is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.db.models import Device, Notification, NotificationDelivery
from backend.services.devices import forget_device
from backend.services.notifier import Notifier, SendOutcome, SendResult

log = logging.getLogger(__name__)

PENDING, SENT, FAILED = "pending", "sent", "failed"


@dataclass(frozen=True)
class RetryPolicy:
    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(minutes=30)
    max_attempts: int = 8
    # How long a claimed delivery is left to its worker before another may try it.
    lease: timedelta = timedelta(minutes=5)

    def delay(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed try."""
        delay: timedelta = self.first_delay * 2 ** max(0, attempts - 1)
        return min(self.max_delay, delay)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0  # will be tried again
    gave_up: int = 0
    unregistered: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.sent + self.failed + self.gave_up + self.unregistered


@dataclass(frozen=True)
class _Job:
    delivery_id: int
    device_id: int
    token: str
    title: str
    body: str
    data: dict[str, str]
    attempts: int


def push_data(notification_id: int, kind: str, data: Mapping[str, Any]) -> dict[str, str]:
    """The payload the app receives: which notification, what kind, and the event's ids."""
    return {
        **{str(k): str(v) for k, v in data.items()},
        "kind": kind,
        "notification_id": str(notification_id),
    }


def deliver_pending(
    s: Session,
    notifier: Notifier,
    now: datetime,
    *,
    policy: RetryPolicy | None = None,
    user_id: int | None = None,
    limit: int = 200,
) -> DeliveryReport:
    """Send every delivery that is due (of one user, or of everybody), at most `limit`."""
    policy = policy or RetryPolicy()
    report = DeliveryReport()
    while report.attempted < limit:
        jobs = _claim(s, now, policy, user_id, limit - report.attempted)
        if not jobs:
            break
        for job in jobs:
            _settle(s, job, _send(notifier, job), now, policy, report)
    return report


def _claim(
    s: Session, now: datetime, policy: RetryPolicy, user_id: int | None, limit: int
) -> list[_Job]:
    d = NotificationDelivery
    heads = select(func.min(d.id)).where(d.status == PENDING).group_by(d.device_id)
    if user_id is not None:
        heads = heads.where(d.user_id == user_id)
    rows = s.execute(
        select(
            d.id,
            d.device_id,
            d.notification_id,
            d.title,
            d.body,
            d.attempts,
            Device.token,
            Notification.kind,
            Notification.data,
        )
        .join(Device, Device.id == d.device_id)
        .join(Notification, Notification.id == d.notification_id)
        .where(d.id.in_(heads), d.next_attempt_at <= now)
        .order_by(d.id)
        .limit(limit)
        .with_for_update(of=d, skip_locked=True)
    ).all()
    if rows:
        s.execute(
            update(d)
            .where(d.id.in_([r.id for r in rows]))
            .values(attempts=d.attempts + 1, next_attempt_at=now + policy.lease)
        )
    jobs = [
        _Job(
            r.id,
            r.device_id,
            r.token,
            r.title,
            r.body,
            push_data(r.notification_id, r.kind, r.data or {}),
            r.attempts + 1,
        )
        for r in rows
    ]
    s.commit()
    return jobs


def _send(notifier: Notifier, job: _Job) -> SendResult:
    try:
        return notifier.send(job.token, job.title, job.body, job.data)
    except Exception as exc:
        # A notifier should report, not raise; if one does, it is a failed send all the
        # same, and the caller's session or payment carries on.
        log.exception("notifier raised for delivery %s (device %s)", job.delivery_id, job.device_id)
        return SendResult.failed(f"{type(exc).__name__}")


def _settle(
    s: Session,
    job: _Job,
    result: SendResult,
    now: datetime,
    policy: RetryPolicy,
    report: DeliveryReport,
) -> None:
    rows = update(NotificationDelivery).where(NotificationDelivery.id == job.delivery_id)
    error = (result.error or "")[:300] or None
    if result.outcome == SendOutcome.SENT:
        s.execute(rows.values(status=SENT, sent_at=now, last_error=None))
        report.sent += 1
    elif result.outcome == SendOutcome.UNREGISTERED:
        log.info("device %s: token no longer registered, forgetting it", job.device_id)
        forget_device(s, job.device_id)
        report.unregistered += 1
    elif job.attempts >= policy.max_attempts:
        log.warning(
            "delivery %s given up after %s attempts: %s", job.delivery_id, job.attempts, error
        )
        s.execute(rows.values(status=FAILED, last_error=error))
        report.gave_up += 1
        report.errors.append(error or "")
    else:
        retry_at = now + policy.delay(job.attempts)
        s.execute(rows.values(next_attempt_at=retry_at, last_error=error))
        report.failed += 1
        report.errors.append(error or "")
    s.commit()
