"""What happens around an app start after the request: link it to the charger's session,
tell the driver it started and when the car is full, give up on a start the car never
came to (hold released), and release holds a card processor outage left in place.

The notices go out in the driver's order of events: session started, charging complete
(car full), then session ended — billing sends the last one, and the session-ended port
below runs this follow-up for the session first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from backend.db.models import ChargingSession, Payment, SessionStart, Site
from backend.services import payment_state as st
from backend.services.notification_events import (
    ChargingComplete,
    NotificationEvent,
    SessionStarted,
)
from backend.services.payments import Billing
from backend.services.session_commands import (
    ACCEPTED_BY_CHARGER,
    FAILED,
    PENDING,
    PLUG_IN_WINDOW,
    STARTED,
    _fail,
    find_session,
    payment_ref,
    release_hold,
    start_of,
)
from backend.services.session_outbox import SessionEnded, SessionEndedPort

log = logging.getLogger(__name__)


class Notifier(Protocol):
    """The slice of `Notifications` used here."""

    def notify(
        self, s: Session, user_id: int, event: NotificationEvent, *, now: datetime | None = None
    ) -> object: ...


def notify_progress(
    s: Session, notifications: Notifier, start: SessionStart, now: datetime
) -> None:
    """Session started, then charging complete, each once (commits)."""
    if start.session_id is None:
        return
    session = s.get(ChargingSession, start.session_id)
    site = s.get(Site, start.site_id)
    if session is None or site is None:
        return
    if start.started_notified_at is None and _claim(s, start, "started_notified_at", now):
        notifications.notify(s, start.driver_id, SessionStarted(session.id, site.name), now=now)
    if (
        session.car_full_at is not None
        and start.full_notified_at is None
        and _claim(s, start, "full_notified_at", now)
    ):
        notifications.notify(s, start.driver_id, ChargingComplete(session.id, site.name), now=now)


def _claim(s: Session, start: SessionStart, column: str, now: datetime) -> bool:
    """Mark a notice as sent, once: the app's poll, the sweep and the session-ended port
    may all get here at the same moment; only the one whose update wins sends it."""
    col = getattr(SessionStart, column)
    result = cast(
        CursorResult[Any],
        s.execute(
            update(SessionStart)
            .where(SessionStart.id == start.id, col.is_(None))
            .values({column: now})
        ),
    )
    won = result.rowcount
    s.commit()
    return bool(won)


def follow_up(
    s: Session, payments: Billing, notifications: Notifier, now: datetime, *, limit: int = 200
) -> int:
    """One sweep over the starts that still need something; the number looked at."""
    starts = list(
        s.scalars(
            select(SessionStart)
            .outerjoin(ChargingSession, ChargingSession.id == SessionStart.session_id)
            .where(
                or_(
                    SessionStart.status.in_((PENDING, ACCEPTED_BY_CHARGER)),
                    (SessionStart.status == STARTED)
                    & (
                        SessionStart.started_notified_at.is_(None)
                        | (
                            SessionStart.full_notified_at.is_(None)
                            & ChargingSession.car_full_at.is_not(None)
                        )
                    ),
                )
            )
            .order_by(SessionStart.id)
            .limit(limit)
        )
    )
    for start in starts:
        if find_session(s, start) is None:
            if start.status == ACCEPTED_BY_CHARGER and now - start.created_at > PLUG_IN_WINDOW:
                _fail(
                    s,
                    start,
                    "not_plugged_in",
                    "No car was connected in time, so charging did not start. The card "
                    "hold was released.",
                    now,
                    payments,
                )
            continue
        notify_progress(s, notifications, start, now)
    # Holds a failed start could not release (the card processor was out of reach).
    for start in s.scalars(
        select(SessionStart)
        .join(Payment, Payment.session_ref == -SessionStart.id)
        .where(
            SessionStart.status == FAILED,
            Payment.kind == st.HOLD,
            Payment.final_amount_minor.is_(None),
        )
        .limit(limit)
    ):
        release_hold(s, payments, start)
    return len(starts)


class LinkingSessionEndedPort(SessionEndedPort):
    """Before billing an ended session: link its app start (so the hold the driver
    authorized is the one settled) and send the notices still owed, in order."""

    def __init__(
        self,
        inner: SessionEndedPort,
        session_factory: sessionmaker[Session],
        notifications: Notifier,
        clock: Callable[[], datetime],
    ) -> None:
        self.inner = inner
        self.session_factory = session_factory
        self.notifications = notifications
        self.clock = clock

    def session_ended(self, event: SessionEnded) -> None:
        with self.session_factory() as s:
            session = s.get(ChargingSession, event.session_id)
            if session is not None and session.id_tag:
                start = start_of(s, session)
                if start is not None:
                    notify_progress(s, self.notifications, start, self.clock())
        self.inner.session_ended(event)


__all__ = ["LinkingSessionEndedPort", "follow_up", "notify_progress", "payment_ref"]
