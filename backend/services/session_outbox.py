"""Telling the rest of the platform that a session ended: the `SessionEndedPort`.

Payments (capture the hold, the receipt) and statements hook in here. The notice is an
outbox row written in the same transaction that ends the session, then delivered to the
port after commit and retried with back-off until the port accepts it. Delivery is at
least once: a port must treat a repeated `session_id` as already done.
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import ChargePoint, ChargingSession, SessionOutbox

log = logging.getLogger(__name__)
KIND = "session_ended"
MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True)
class SessionEnded:
    """Everything pricing needs, named after domain.md §5: energy (Wh, integer), the
    idle-fee moments (car full, unplugged) and the price version in force at start."""

    session_id: int
    charge_point_id: int
    site_id: int
    connector_id: int
    driver_id: int | None
    id_tag: str
    rfid_token_id: int | None
    membership_id: int | None
    company_code_id: int | None
    price_group_id: int | None
    price_version_id: int | None
    currency: str
    started_at: datetime
    stopped_at: datetime | None
    car_full_at: datetime | None
    unplugged_at: datetime | None
    energy_wh: int
    meter_start_wh: int | None
    meter_stop_wh: int | None
    stop_reason: str


class SessionEndedPort(abc.ABC):
    """Implemented by payments; the bridge calls it from a worker thread."""

    @abc.abstractmethod
    def session_ended(self, event: SessionEnded) -> None:
        """Raise to have the notice retried later."""


class LoggingSessionEndedPort(SessionEndedPort):
    """The default until payments are wired in: the notice is logged and counted
    delivered (the session row holds everything, so nothing is lost)."""

    def session_ended(self, event: SessionEnded) -> None:
        log.info(
            "session %s ended: %s Wh, %s → %s",
            event.session_id,
            event.energy_wh,
            event.started_at,
            event.stopped_at,
        )


def enqueue(s: Session, session: ChargingSession, now: datetime) -> None:
    """Owe the port a notice for this session (no commit: the caller's transaction ends
    the session and records the debt together)."""
    s.add(SessionOutbox(session_id=session.id, kind=KIND, next_attempt_at=now, created_at=now))


def event_of(s: Session, session: ChargingSession) -> SessionEnded:
    site_id = s.scalar(select(ChargePoint.site_id).where(ChargePoint.id == session.charge_point_id))
    return SessionEnded(
        session_id=session.id,
        charge_point_id=session.charge_point_id,
        site_id=int(site_id or 0),
        connector_id=session.connector_id,
        driver_id=session.driver_id,
        id_tag=session.id_tag,
        rfid_token_id=session.rfid_token_id,
        membership_id=session.membership_id,
        company_code_id=session.company_code_id,
        price_group_id=session.price_group_id,
        price_version_id=session.price_version_id,
        currency=session.currency,
        started_at=session.started_at,
        stopped_at=session.stopped_at,
        car_full_at=session.car_full_at,
        unplugged_at=session.unplugged_at,
        energy_wh=session.energy_wh or 0,
        meter_start_wh=session.meter_start_wh,
        meter_stop_wh=session.meter_stop_wh,
        stop_reason=session.stop_reason,
    )


def due(s: Session, now: datetime, limit: int = 100) -> list[int]:
    """Outbox rows waiting for (another) delivery attempt."""
    return list(
        s.scalars(
            select(SessionOutbox.id)
            .where(SessionOutbox.delivered_at.is_(None), SessionOutbox.next_attempt_at <= now)
            .order_by(SessionOutbox.next_attempt_at, SessionOutbox.id)
            .limit(limit)
        )
    )


def backoff(attempts: int) -> timedelta:
    return min(MAX_BACKOFF, timedelta(seconds=5 * 2 ** min(attempts, 12)))


def deliver(s: Session, outbox_id: int, port: SessionEndedPort, now: datetime) -> bool:
    """Try one notice; True when the port accepted it (or it was delivered already).

    The row is locked for the attempt (skipped if another bridge node holds it), so two
    nodes do not deliver the same notice at the same moment.
    """
    row = s.scalar(
        select(SessionOutbox).where(SessionOutbox.id == outbox_id).with_for_update(skip_locked=True)
    )
    if row is None or row.delivered_at is not None:
        s.rollback()
        return row is not None
    session = s.get(ChargingSession, row.session_id)
    if session is None:  # deleted in the meantime: nothing left to tell
        row.delivered_at = now
        s.commit()
        return True
    try:
        port.session_ended(event_of(s, session))
    except Exception as exc:
        row.attempts += 1
        row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        row.next_attempt_at = now + backoff(row.attempts)
        s.commit()
        log.warning("session-ended port failed for session %s: %s", row.session_id, exc)
        return False
    row.attempts += 1
    row.delivered_at = now
    s.commit()
    return True
