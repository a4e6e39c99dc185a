"""Charging sessions, the bookkeeping that bills people: the start.

The OCPP handlers (ocpp_bridge.v16 / v201) translate messages into the calls below.
- A start creates ONE session, idempotently: a retried start (same connector, idTag,
  timestamp and meterStart in 1.6; same transactionId in 2.0.1) finds the first one.
- A new start on a connector closes what was left open there (filed for review).
- The session is priced with the version in force at its start (domain.md §3).
Stops and unplugs are in `session_stop`, samples in `session_batch`, the meter rules in
`session_meters`, authorization in `session_access`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import ChargingSession, Site
from backend.errors import NotFound
from backend.services import pricing, session_outbox
from backend.services.bridge_records import (
    SESSION_INTERRUPTED,
    UNPLUG_NOT_REPORTED,
    ChargerRef,
    record_incident,
)
from backend.services.session_access import Authorization, authorize
from backend.services.session_meters import (
    SampleIn,
    SessionRules,
    apply_status,
    start_meter,
    trusted_time,
)
from backend.services.session_samples import note_clock, store_samples
from backend.services.session_stop import OPEN, StopIn, StopOutcome, settle_energy

__all__ = ["OPEN", "StartIn", "StartOutcome", "StopIn", "StopOutcome", "start_session"]


@dataclass(frozen=True)
class StartIn:
    connector_id: int
    id_tag: str
    timestamp: str | None  # as the charger sent it
    meter_start: int | None
    charger_transaction_id: str | None = None  # 2.0.1
    samples: tuple[SampleIn, ...] = ()
    seq_no: int | None = None
    status: str | None = None  # 2.0.1 chargingState, as a 1.6 connector status


@dataclass(frozen=True)
class StartOutcome:
    session_id: int
    ocpp_transaction_id: int | None
    authorization: Authorization
    created: bool
    ended: list[int] = field(default_factory=list)  # leftovers closed by this start


def start_key(start: StartIn) -> str:
    if start.charger_transaction_id:
        return f"tx:{start.charger_transaction_id}"
    return f"{start.connector_id}|{start.id_tag.upper()}|{start.timestamp}|{start.meter_start}"[
        :120
    ]


def _existing(s: Session, charger: ChargerRef, key: str) -> ChargingSession | None:
    return s.scalar(
        select(ChargingSession).where(
            ChargingSession.charge_point_id == charger.charge_point_id,
            ChargingSession.start_key == key,
        )
    )


def _outcome(
    session: ChargingSession, created: bool, ended: list[int] | None = None
) -> StartOutcome:
    auth = Authorization(
        session.auth_status or "Accepted",
        driver_id=session.driver_id,
        rfid_token_id=session.rfid_token_id,
        membership_id=session.membership_id,
        company_code_id=session.company_code_id,
        price_group_id=session.price_group_id,
    )
    return StartOutcome(session.id, session.ocpp_transaction_id, auth, created, ended or [])


def attach(
    s: Session, session: ChargingSession, id_tag: str, auth: Authorization, site: Site
) -> None:
    """Name the session's owner and fix its price: the version in force at its start
    (domain.md §3: a price change applies to sessions that start after it)."""
    session.id_tag = id_tag[:36]
    session.auth_status = auth.status
    session.driver_id = auth.driver_id
    session.rfid_token_id = auth.rfid_token_id
    session.membership_id = auth.membership_id
    session.company_code_id = auth.company_code_id
    session.price_group_id = auth.price_group_id or site.default_price_group_id
    session.price_version_id = None
    if session.price_group_id is not None:
        try:
            version = pricing.in_force(s, site.id, session.price_group_id, session.started_at)
            session.price_version_id = version.id
        except NotFound:
            pass  # platform-priced (PUB) or not priced yet: payments decide by plan


def start_session(
    s: Session, charger: ChargerRef, start: StartIn, now: datetime, rules: SessionRules
) -> StartOutcome:
    """StartTransaction (1.6) / TransactionEvent Started (2.0.1); commits."""
    key = start_key(start)
    found = _existing(s, charger, key)
    if found is not None:
        return _outcome(found, created=False)
    site = s.get(Site, charger.site_id)
    assert site is not None
    started_at, corrected = trusted_time(start.timestamp, now, rules)
    ended = _close_leftovers(s, charger, start.connector_id, started_at, now, rules)
    meter, source = start_meter(start.meter_start)
    session = ChargingSession(
        charge_point_id=charger.charge_point_id,
        connector_id=start.connector_id,
        ocpp_version=charger.ocpp_version,
        start_key=key,
        charger_transaction_id=start.charger_transaction_id,
        currency=site.currency,
        started_at=started_at,
        meter_start_wh=meter,
        meter_start_source=source,
        last_seq_no=start.seq_no,
        status="active",
        created_at=now,
        updated_at=now,
    )
    s.add(session)
    s.flush()
    if not start.charger_transaction_id:
        session.ocpp_transaction_id = session.id  # unique already, and small enough for 1.6
    auth = authorize(s, start.id_tag, site.id, now) if start.id_tag else None
    if auth is not None:
        attach(s, session, start.id_tag, auth, site)
    else:
        attach(s, session, "", Authorization(""), site)
    store_samples(s, charger, session, start.samples, now, rules, seq_no=start.seq_no)
    if start.status:
        apply_status(session, start.status, started_at)
    note_clock(s, charger, session, corrected, now)
    try:
        s.commit()
    except IntegrityError:  # the same start, committed meanwhile by a concurrent retry
        s.rollback()
        found = _existing(s, charger, key)
        if found is None:
            raise
        return _outcome(found, created=False)
    return _outcome(session, created=True, ended=ended)


def _close_leftovers(
    s: Session,
    charger: ChargerRef,
    connector_id: int,
    at: datetime,
    now: datetime,
    rules: SessionRules,
) -> list[int]:
    """A new start on a connector ends what is still open there: a session whose stop
    never came is interrupted at its last reading; one that waited for its unplug ends
    (the cable evidently left). Both are filed for review."""
    ended = []
    for old in s.scalars(
        select(ChargingSession)
        .where(
            ChargingSession.charge_point_id == charger.charge_point_id,
            ChargingSession.connector_id == connector_id,
            ChargingSession.status.in_(OPEN),
        )
        .with_for_update()
    ):
        if old.status == "active":
            old.stopped_at = max(at, old.started_at)
            old.meter_stop_wh = None  # its last reading stands for it
            old.stop_reason = "Superseded"
            settle_energy(s, charger, old, now, rules)
            old.status = "interrupted"
            record_incident(s, SESSION_INTERRUPTED, charger, now, session_id=old.id)
        else:
            old.status = "completed"
            record_incident(s, UNPLUG_NOT_REPORTED, charger, now, session_id=old.id)
        session_outbox.enqueue(s, old, now)
        ended.append(old.id)
    return ended
