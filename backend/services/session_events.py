"""OCPP 2.0.1 TransactionEvent Updated, when it needs more than the meter writer: the
first sight of a transaction whose Started never reached us, or the idToken presented
after the cable (2.0.1 may start a transaction at plug-in and authorize later)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from backend.db.models import ChargingSession, Site
from backend.services.bridge_records import STARTED_IMPLICITLY, ChargerRef, record_incident
from backend.services.session_access import Authorization, authorize
from backend.services.session_meters import SampleIn, SessionRules, apply_status, trusted_time
from backend.services.session_samples import store_samples
from backend.services.session_stop import find_session
from backend.services.sessions import StartIn, attach, start_session


@dataclass(frozen=True)
class UpdateIn:
    charger_transaction_id: str
    connector_id: int
    timestamp: str | None
    id_tag: str | None = None
    samples: tuple[SampleIn, ...] = ()
    seq_no: int | None = None
    status: str | None = None
    unplugged: bool = False


@dataclass(frozen=True)
class UpdateOutcome:
    session_id: int
    authorization: Authorization | None
    created: bool
    ended: list[int] = field(default_factory=list)


def update_session(
    s: Session, charger: ChargerRef, event: UpdateIn, now: datetime, rules: SessionRules
) -> UpdateOutcome:
    """Apply an Updated event directly (not batched); creates the session if unknown.
    Commits."""
    session = find_session(s, charger, None, event.charger_transaction_id, lock=True)
    if session is None:
        started = start_session(
            s,
            charger,
            StartIn(
                connector_id=event.connector_id,
                id_tag=event.id_tag or "",
                timestamp=event.timestamp,
                meter_start=None,
                charger_transaction_id=event.charger_transaction_id,
                samples=event.samples,
                seq_no=event.seq_no,
                status=event.status,
            ),
            now,
            rules,
        )
        session = s.get(ChargingSession, started.session_id)
        assert session is not None
        if started.created:
            record_incident(s, STARTED_IMPLICITLY, charger, now, session_id=session.id)
        _unplug(session, event, now, rules)
        s.commit()
        auth = started.authorization if event.id_tag else None
        return UpdateOutcome(session.id, auth, started.created, started.ended)
    auth = None
    if event.id_tag:
        if session.id_tag:
            auth = Authorization(session.auth_status or "Accepted", driver_id=session.driver_id)
        else:
            site = s.get(Site, charger.site_id)
            assert site is not None
            auth = authorize(s, event.id_tag, charger.site_id, now)
            attach(s, session, event.id_tag, auth, site)
    store_samples(s, charger, session, event.samples, now, rules, seq_no=event.seq_no)
    if event.seq_no is not None:
        session.last_seq_no = max(event.seq_no, session.last_seq_no or 0)
    at, _ = trusted_time(event.timestamp, now, rules)
    if event.status:
        apply_status(session, event.status, at)
    _unplug(session, event, now, rules)
    s.commit()
    return UpdateOutcome(session.id, auth, False)


def _unplug(session: ChargingSession, event: UpdateIn, now: datetime, rules: SessionRules) -> None:
    if event.unplugged and session.unplugged_at is None:
        session.unplugged_at, _ = trusted_time(event.timestamp, now, rules)
