"""Ending charging sessions: the stop, the energy, the unplug (domain.md §5).

- A stop closes the session with the final reading and reason; a second stop changes
  nothing; a stop for a transaction we do not know is acknowledged and filed for review.
- The session *ends* (the backend is told, through the outbox) when the car is unplugged:
  at the stop when the charger says so (EVDisconnected, EVDeparted), or later when the
  connector turns Available. The idle fee runs until then.
- Energy comes from the start reading, every stored register reading and the stop
  reading (`session_meters.energy_wh`: register resets and glitches handled).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import ChargingSession, MeterSample
from backend.services import session_outbox
from backend.services.bridge_records import (
    LATE_STOP,
    METER_START_UNKNOWN,
    UNKNOWN_TRANSACTION_STOP,
    UNPLUG_NOT_REPORTED,
    ChargerRef,
    record_incident,
)
from backend.services.session_meters import (
    BILLED_LOCATIONS,
    ENERGY_REGISTER,
    SampleIn,
    SessionRules,
    energy_wh,
    plausible_from_zero,
    trusted_time,
    whole_wh,
)
from backend.services.session_samples import connector_power, note_clock, store_samples

OPEN = ("active", "stopped")


@dataclass(frozen=True)
class StopIn:
    timestamp: str | None
    meter_stop: int | None
    reason: str = "Local"
    ocpp_transaction_id: int | None = None
    charger_transaction_id: str | None = None
    id_tag: str | None = None
    samples: tuple[SampleIn, ...] = ()
    seq_no: int | None = None
    unplugged: bool = False


@dataclass(frozen=True)
class StopOutcome:
    result: str  # stopped | completed | duplicate | unknown
    session_id: int | None = None
    ended: list[int] = field(default_factory=list)  # sessions whose notice is now owed


def find_session(
    s: Session,
    charger: ChargerRef,
    ocpp_transaction_id: int | None,
    charger_transaction_id: str | None,
    *,
    lock: bool = False,
) -> ChargingSession | None:
    query = select(ChargingSession).where(
        ChargingSession.charge_point_id == charger.charge_point_id
    )
    if charger_transaction_id:
        query = query.where(ChargingSession.charger_transaction_id == charger_transaction_id)
    elif ocpp_transaction_id is not None:
        query = query.where(ChargingSession.ocpp_transaction_id == ocpp_transaction_id)
    else:
        return None
    return s.scalar(query.with_for_update() if lock else query)


def stop_session(
    s: Session, charger: ChargerRef, stop: StopIn, now: datetime, rules: SessionRules
) -> StopOutcome:
    """StopTransaction (1.6) / TransactionEvent Ended (2.0.1); commits."""
    session = find_session(
        s, charger, stop.ocpp_transaction_id, stop.charger_transaction_id, lock=True
    )
    if session is None:
        record_incident(
            s,
            UNKNOWN_TRANSACTION_STOP,
            charger,
            now,
            transaction_id=stop.ocpp_transaction_id or stop.charger_transaction_id,
            meter_stop=stop.meter_stop,
            timestamp=stop.timestamp,
            reason=stop.reason,
        )
        s.commit()
        return StopOutcome("unknown")
    if session.status != "active":
        if session.status == "interrupted":
            record_incident(
                s, LATE_STOP, charger, now, session_id=session.id, meter_stop=stop.meter_stop
            )
            s.commit()
        else:
            s.rollback()
        return StopOutcome("duplicate", session.id)
    store_samples(s, charger, session, stop.samples, now, rules, seq_no=stop.seq_no)
    stopped_at, corrected = trusted_time(stop.timestamp, now, rules)
    note_clock(s, charger, session, corrected, now)
    session.stopped_at = max(stopped_at, session.started_at)
    session.meter_stop_wh = stop.meter_stop
    session.stop_reason = (stop.reason or "Local")[:40]
    if stop.seq_no is not None:
        session.last_seq_no = max(stop.seq_no, session.last_seq_no or 0)
    settle_energy(s, charger, session, now, rules)
    if stop.unplugged and session.unplugged_at is None:
        session.unplugged_at = session.stopped_at
    ended = []
    if session.unplugged_at is not None:
        session.status = "completed"
        session_outbox.enqueue(s, session, now)
        ended.append(session.id)
    else:
        session.status = "stopped"
    s.commit()
    return StopOutcome(session.status, session.id, ended)


def register_readings(s: Session, session_id: int) -> list[int]:
    """The session's billed register readings (Wh), in time order."""
    values = s.scalars(
        select(MeterSample.value)
        .where(
            MeterSample.session_id == session_id,
            MeterSample.measurand == ENERGY_REGISTER,
            MeterSample.phase == "",
            MeterSample.location.in_(BILLED_LOCATIONS),
            MeterSample.unit == "Wh",
        )
        .order_by(MeterSample.timestamp, MeterSample.reported_at)
    )
    return [whole_wh(v) for v in values]


def settle_energy(
    s: Session, charger: ChargerRef, session: ChargingSession, now: datetime, rules: SessionRules
) -> None:
    """Energy from start, stored readings and stop; a stop without a reading of its own
    (2.0.1 Ended without meter values, a session closed by the bridge) takes the last."""
    readings = register_readings(s, session.id)
    if session.meter_stop_wh is None and readings:
        session.meter_stop_wh = readings[-1]
    stop = session.meter_stop_wh
    if session.meter_start_source == "zero" and not readings and stop is not None:
        # Nothing confirmed the 0 start: believable only if the charger could have
        # delivered that much since.
        power = connector_power(s, session) or 0
        end = session.stopped_at or now
        if not plausible_from_zero(stop, session.started_at, end, power, rules):
            session.meter_start_wh = None
            session.meter_start_source = "missing"
    if session.meter_start_wh is None and not readings:
        session.energy_wh = 0
        record_incident(
            s, METER_START_UNKNOWN, charger, now, session_id=session.id, meter_stop=stop
        )
        return
    session.energy_wh = energy_wh(session.meter_start_wh, readings, stop)


def end_unplugged(s: Session, session: ChargingSession, now: datetime) -> list[int]:
    """A stopped session whose cable has now left: it ends (no commit)."""
    if session.status == "stopped" and session.unplugged_at is not None:
        session.status = "completed"
        session_outbox.enqueue(s, session, now)
        return [session.id]
    return []


def complete_overdue(
    s: Session, now: datetime, wait: timedelta, charger: ChargerRef | None = None
) -> list[int]:
    """Stopped sessions whose unplug never came within ``wait`` end without it (the
    charger went offline, or does not report); filed for review. Commits."""
    overdue = s.scalars(
        select(ChargingSession)
        .where(ChargingSession.status == "stopped", ChargingSession.stopped_at < now - wait)
        .with_for_update(skip_locked=True)
    ).all()
    for session in overdue:
        session.status = "completed"
        session_outbox.enqueue(s, session, now)
        record_incident(s, UNPLUG_NOT_REPORTED, charger, now, session_id=session.id)
    s.commit()
    return [x.id for x in overdue]


def open_sessions(s: Session, charge_point_id: int) -> Sequence[ChargingSession]:
    return s.scalars(
        select(ChargingSession).where(
            ChargingSession.charge_point_id == charge_point_id,
            ChargingSession.status.in_(OPEN),
        )
    ).all()
