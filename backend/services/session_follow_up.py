"""What happens around an app start after the request: link it to the charger's session,
tell the driver it started and when the car is full, give up on a start the car never
came to (hold released), and release holds a card processor outage left in place.

A known driver's session that was not started in the app (an RFID card) gets the same
two notices, kept to once by the inbox's dedupe key instead of the app start's columns.

The notices go out in the driver's order of events: session started, charging complete
(car full), then session ended — billing sends the last one, and the session-ended port
below runs this follow-up for the session first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, String, and_, exists, literal, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session, sessionmaker

from backend.db.models import (
    ChargePoint,
    ChargingSession,
    Notification,
    Payment,
    PriceVersion,
    SessionStart,
    Site,
)
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
from shared.idle import US_PER_MINUTE, IdleWindow, IdleWindowError, billable_idle, to_us

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
        event = ChargingComplete(session.id, site.name, idle_fee_in_minutes(s, session))
        notifications.notify(s, start.driver_id, event, now=now)


#: How far past the car being full the first billable idle minute is looked for.
IDLE_HORIZON = timedelta(days=8)


def idle_fee_in_minutes(s: Session, session: ChargingSession) -> int | None:
    """Minutes from the car being full until the first billable idle minute (after the
    grace period, and when the window is closed then, once it opens): 0 when the fee
    already runs; None where the session's price has no idle fee (domain.md §5)."""
    full = session.car_full_at
    version = s.get(PriceVersion, session.price_version_id) if session.price_version_id else None
    if full is None or version is None:
        return None
    if version.model != "fixed_with_idle" or not version.idle_per_minute > 0:
        return None
    site = s.get(Site, version.site_id)
    if site is None:
        return None
    try:
        window = None
        if version.idle_window_start and version.idle_window_end:
            window = IdleWindow(
                time.fromisoformat(version.idle_window_start),
                time.fromisoformat(version.idle_window_end),
                site.timezone,
            )
        idle = billable_idle(full, full + IDLE_HORIZON, window, version.idle_grace_minutes)
    except (IdleWindowError, ValueError):
        log.warning("idle window of price version %s cannot be read", version.id)
        return None
    if not idle.segments:
        return None
    wait_us = to_us(idle.segments[0][0]) - to_us(full)
    return max(0, -(-wait_us // US_PER_MINUTE))  # a part of a minute counts as one


def _once_key(kind: str, session_id: int) -> str:
    return f"{kind}:{session_id}"


def notify_other_progress(
    s: Session, notifications: Notifier, session: ChargingSession, now: datetime
) -> None:
    """Session started, then charging complete, each once, for a known driver's session
    that was not started in the app (an RFID card, say): kept to once by the inbox's
    dedupe key, as no app start records it (commits)."""
    if session.driver_id is None:
        return
    site = s.scalar(
        select(Site)
        .join(ChargePoint, ChargePoint.site_id == Site.id)
        .where(ChargePoint.id == session.charge_point_id)
    )
    if site is None:
        return
    started = SessionStarted(
        session.id, site.name, once_key=_once_key(SessionStarted.kind, session.id)
    )
    notifications.notify(s, session.driver_id, started, now=now)
    if session.car_full_at is not None:
        full = ChargingComplete(
            session.id,
            site.name,
            idle_fee_in_minutes(s, session),
            once_key=_once_key(ChargingComplete.kind, session.id),
        )
        notifications.notify(s, session.driver_id, full, now=now)


def _not_told(kind: str) -> Any:
    """No inbox entry yet of `kind` for the driver of the session in the query."""
    # `||` (string +), not concat(): SQLite, the embedded default, has no concat().
    key = literal(f"{kind}:") + sql_cast(ChargingSession.id, String)
    return ~exists().where(
        Notification.user_id == ChargingSession.driver_id, Notification.dedupe_key == key
    )


def _other_sessions_owed(s: Session, limit: int) -> list[ChargingSession]:
    """Running sessions of known drivers with no app start, still owed a notice."""
    linked = select(SessionStart.session_id).where(SessionStart.session_id.is_not(None))
    return list(
        s.scalars(
            select(ChargingSession)
            .where(
                ChargingSession.driver_id.is_not(None),
                ChargingSession.status == "active",
                ChargingSession.id.not_in(linked),
                or_(
                    _not_told(SessionStarted.kind),
                    and_(
                        ChargingSession.car_full_at.is_not(None), _not_told(ChargingComplete.kind)
                    ),
                ),
            )
            .order_by(ChargingSession.id)
            .limit(limit)
        )
    )


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
    # Sessions of known drivers that were not started in the app (an RFID card).
    others = _other_sessions_owed(s, limit)
    for session in others:
        linked = start_of(s, session)  # an app start not linked yet is still an app start
        if linked is not None:
            notify_progress(s, notifications, linked, now)
        else:
            notify_other_progress(s, notifications, session, now)
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
    return len(starts) + len(others)


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
                elif session.driver_id is not None:
                    notify_other_progress(s, self.notifications, session, self.clock())
        self.inner.session_ended(event)


__all__ = [
    "LinkingSessionEndedPort",
    "follow_up",
    "idle_fee_in_minutes",
    "notify_other_progress",
    "notify_progress",
    "payment_ref",
]
