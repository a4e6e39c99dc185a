"""Linking an app start to the session the charger opened for it, and re-keying the
start's card hold (`payment_ref`) to that session's id (see session_commands).

Split out of session_commands (which re-exports all of it) to keep each module small.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from backend.db.models import ChargingSession, Payment, SessionStart
from backend.errors import NotFound
from backend.services.session_start_status import CLOCK_SLACK, STARTED, WAITING
from backend.services.visibility import valid_id


def payment_ref(start: SessionStart) -> int:
    """The card hold's `session_ref` while no session exists: negative, so it can never
    be mistaken for a charging session's id."""
    return -start.id


def link(s: Session, start: SessionStart, session: ChargingSession, now: datetime) -> None:
    """The start became this session: re-key its payments to the session's id (no commit)."""
    start.session_id = session.id
    start.status = STARTED
    start.updated_at = now
    taken = set(s.scalars(select(Payment.kind).where(Payment.session_ref == session.id)).all())
    for p in s.scalars(select(Payment).where(Payment.session_ref == payment_ref(start))):
        if p.kind not in taken:
            p.session_ref = session.id


def _linked_ids() -> Select[int | None]:
    return select(SessionStart.session_id).where(SessionStart.session_id.is_not(None))


def find_session(s: Session, start: SessionStart) -> ChargingSession | None:
    """The session the charger opened for this start, linked (commits) — or None yet."""
    if start.session_id is not None:
        return s.get(ChargingSession, start.session_id)
    if start.status not in WAITING:
        return None
    session = s.scalar(
        select(ChargingSession)
        .where(
            ChargingSession.charge_point_id == start.charge_point_id,
            ChargingSession.connector_id == start.connector_id,
            func.upper(ChargingSession.id_tag) == start.id_tag,
            ChargingSession.created_at >= start.created_at - CLOCK_SLACK,
            ChargingSession.id.not_in(_linked_ids()),
        )
        .order_by(ChargingSession.id)
        .limit(1)
    )
    if session is None:
        return None
    link(s, start, session, start.updated_at)
    s.commit()
    return session


def start_of(s: Session, session: ChargingSession) -> SessionStart | None:
    """The app start behind this session (linked now if it was not yet; commits)."""
    found = s.scalar(select(SessionStart).where(SessionStart.session_id == session.id))
    if found is not None:
        return found
    start = s.scalar(
        select(SessionStart)
        .where(
            SessionStart.charge_point_id == session.charge_point_id,
            SessionStart.connector_id == session.connector_id,
            SessionStart.id_tag == session.id_tag.upper(),
            SessionStart.status.in_(WAITING),
            SessionStart.session_id.is_(None),
            SessionStart.created_at <= session.created_at + CLOCK_SLACK,
        )
        .order_by(SessionStart.id.desc())
        .limit(1)
    )
    if start is None:
        return None
    link(s, start, session, session.created_at)
    s.commit()
    return start


def get_start(s: Session, driver_id: int, start_id: int) -> SessionStart:
    """The driver's own start (another driver's is 404), linked if its session exists."""
    start = s.get(SessionStart, start_id) if valid_id(start_id) else None
    if start is None or start.driver_id != driver_id:
        raise NotFound("No such session start.")
    find_session(s, start)
    return start
