"""Many chargers' meter values in one transaction: the group-commit writer's flush.

The bridge hands `record_meter_batch` everything that arrived in the last few
milliseconds from every charger. Whatever the number of chargers it costs a handful of
statements, all in SQLAlchemy Core (ORM objects for a thousand sessions would cost more
than the rest of the work): one query reads the sessions' state, one multi-row INSERT
stores the samples (a replayed sample is skipped by its key), one executemany updates
the few sessions whose state moved, one commit. The chargers are answered after it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, and_, any_, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from backend.db.models import BridgeIncident, ChargingSession, Connector
from backend.services.bridge_records import UNKNOWN_TRANSACTION_METER, ChargerRef, record_incident
from backend.services.session_meters import (
    SampleIn,
    SessionRules,
    apply_readings,
    apply_status,
    readings_of,
    trusted_time,
)
from backend.services.session_samples import insert_new, note_clock, sample_rows

TABLE = ChargingSession.__table__


@dataclass(frozen=True)
class MeterReport:
    """A MeterValues (1.6 or 2.0.1) or a TransactionEvent Updated, version-neutral."""

    charger: ChargerRef
    connector_id: int
    samples: tuple[SampleIn, ...]
    ocpp_transaction_id: int | None = None  # 1.6
    charger_transaction_id: str | None = None  # 2.0.1
    seq_no: int | None = None
    status: str | None = None  # a 2.0.1 chargingState, as a 1.6 connector status
    unplugged: bool = False  # 2.0.1 EVDeparted
    event_time: str | None = None


class MeterOutcome(StrEnum):
    STORED = "stored"
    UNKNOWN_TRANSACTION = "unknown_transaction"  # names a transaction we do not know
    NO_SESSION = "no_session"  # names none, and nothing is charging on that connector


@dataclass
class Moving:
    """The columns a meter batch may change (see `SessionLike`)."""

    meter_start_wh: int | None
    meter_start_source: str
    charging_seen: bool
    low_power_count: int
    low_power_since: datetime | None
    car_full_at: datetime | None
    unplugged_at: datetime | None
    last_seq_no: int | None
    clock_corrected: bool


MOVING = tuple(f.name for f in fields(Moving))
FIXED = ("id", "charge_point_id", "connector_id", "status", "ocpp_transaction_id",
         "charger_transaction_id", "started_at")  # fmt: skip


@dataclass
class SessionState(Moving):
    id: int
    charge_point_id: int
    connector_id: int
    status: str
    ocpp_transaction_id: int | None
    charger_transaction_id: str | None
    started_at: datetime

    def moving(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in MOVING)


def _find_sessions(s: Session, reports: Sequence[MeterReport]) -> list[SessionState | None]:
    """The session each report belongs to, read with one query for the whole batch."""
    ours = {r.ocpp_transaction_id for r in reports if r.ocpp_transaction_id is not None}
    theirs = {r.charger_transaction_id for r in reports if r.charger_transaction_id}
    bare = {r.charger.charge_point_id for r in reports if _bare(r)}
    cps = {r.charger.charge_point_id for r in reports}
    c = TABLE.c
    pg = s.get_bind().dialect.name == "postgresql"
    conditions = []
    if ours:
        conditions.append(_in(c.ocpp_transaction_id, ours, Integer, pg))
    if theirs:
        conditions.append(
            and_(
                _in(c.charge_point_id, cps, Integer, pg),
                _in(c.charger_transaction_id, theirs, String, pg),
            )
        )
    if bare:
        conditions.append(and_(_in(c.charge_point_id, bare, Integer, pg), c.status == "active"))
    if not conditions:
        return [None] * len(reports)
    query = select(*(c[name] for name in (*MOVING, *FIXED))).where(or_(*conditions))
    found = [SessionState(*row) for row in s.execute(query)]
    by_ours = {x.ocpp_transaction_id: x for x in found if x.ocpp_transaction_id is not None}
    by_theirs = {(x.charge_point_id, x.charger_transaction_id): x for x in found}
    active = {
        (x.charge_point_id, x.connector_id): x
        for x in sorted(found, key=lambda x: x.started_at)
        if x.status == "active"
    }
    result: list[SessionState | None] = []
    for r in reports:
        cp = r.charger.charge_point_id
        if r.ocpp_transaction_id is not None:
            hit = by_ours.get(r.ocpp_transaction_id)
            result.append(hit if hit is not None and hit.charge_point_id == cp else None)
        elif r.charger_transaction_id:
            result.append(by_theirs.get((cp, r.charger_transaction_id)))
        else:
            result.append(active.get((cp, r.connector_id)))
    return result


def _in(column: Any, values: set[Any], kind: Any, pg: bool) -> ColumnElement[bool]:
    """column IN values; on PostgreSQL `= ANY(array)`, one parameter however many."""
    if pg:
        return column == any_(bindparam(None, list(values), type_=ARRAY(kind)))  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]


def _bare(r: MeterReport) -> bool:
    return r.ocpp_transaction_id is None and not r.charger_transaction_id


def record_meter_batch(
    s: Session, reports: Sequence[MeterReport], now: datetime, rules: SessionRules
) -> list[MeterOutcome]:
    """Store many chargers' samples in one transaction and commit; one outcome per report."""
    sessions = _find_sessions(s, reports)
    before = {x.id: x.moving() for x in sessions if x is not None}
    outcomes: list[MeterOutcome] = []
    rows: list[dict[str, Any]] = []
    corrected: dict[int, bool] = defaultdict(bool)
    unknown: list[MeterReport] = []
    for report, state in zip(reports, sessions, strict=True):
        if state is None:
            bare = _bare(report)
            outcomes.append(MeterOutcome.NO_SESSION if bare else MeterOutcome.UNKNOWN_TRANSACTION)
            if report.ocpp_transaction_id is not None:  # 2.0.1 falls back to a direct start
                unknown.append(report)
            continue
        outcomes.append(MeterOutcome.STORED)
        new_rows, bad_clock = sample_rows(state, report.samples, now, rules, report.seq_no)
        rows.extend(new_rows)
        corrected[state.id] |= bad_clock
    new_by_session: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in insert_new(s, rows):
        new_by_session[row["session_id"]].append(row)
    powers = _connector_powers(s, [x for x in sessions if x and x.meter_start_source == "zero"])
    for report, state in zip(reports, sessions, strict=True):
        if state is None:
            continue
        power = powers.get((state.charge_point_id, state.connector_id))
        apply_readings(state, readings_of(new_by_session.pop(state.id, [])), rules, power)
        if report.seq_no is not None:
            state.last_seq_no = max(report.seq_no, state.last_seq_no or 0)
        at, _ = trusted_time(report.event_time, now, rules)
        if report.status:
            apply_status(state, report.status, at)
        if report.unplugged and state.unplugged_at is None:
            state.unplugged_at = at
        note_clock(s, report.charger, state, corrected.pop(state.id, False), now)
    _write_moved([x for x in {x.id: x for x in sessions if x}.values()], before, s, now)
    _file_unknown(s, unknown, now)
    s.commit()
    return outcomes


def _write_moved(
    states: Sequence[SessionState], before: dict[int, tuple[Any, ...]], s: Session, now: datetime
) -> None:
    """One executemany for the sessions whose state moved (usually few: a charging car's
    samples change nothing but the samples table)."""
    moved = [x for x in states if x.moving() != before[x.id]]
    if not moved:
        return
    statement = (
        update(TABLE)
        .where(TABLE.c.id == bindparam("b_id"))
        .values({name: bindparam(f"b_{name}") for name in MOVING} | {"updated_at": now})
    )
    params = [
        {"b_id": x.id} | {f"b_{n}": v for n, v in zip(MOVING, x.moving(), strict=True)}
        for x in moved
    ]
    s.connection().execute(statement, params)


def _file_unknown(s: Session, reports: Sequence[MeterReport], now: datetime) -> None:
    """One open incident per charger and unknown transaction, however often it sends."""
    if not reports:
        return
    filed = {
        (cp_id, detail)
        for cp_id, detail in s.execute(
            select(BridgeIncident.charge_point_id, BridgeIncident.detail).where(
                BridgeIncident.kind == UNKNOWN_TRANSACTION_METER,
                BridgeIncident.reviewed_at.is_(None),
                BridgeIncident.charge_point_id.in_({r.charger.charge_point_id for r in reports}),
            )
        )
    }
    for report in reports:
        detail = {"transaction_id": report.ocpp_transaction_id}
        key = (report.charger.charge_point_id, json.dumps(detail, sort_keys=True))
        if key not in filed:
            record_incident(s, UNKNOWN_TRANSACTION_METER, report.charger, now, **detail)
            filed.add(key)


def _connector_powers(
    s: Session, sessions: Sequence[SessionState | None]
) -> dict[tuple[int, int], int]:
    """Connector max power for sessions whose 0 start still awaits a plausibility check."""
    cps = {x.charge_point_id for x in sessions if x is not None}
    if not cps:
        return {}
    rows = s.execute(
        select(Connector.charge_point_id, Connector.connector_id, Connector.max_power_w).where(
            Connector.charge_point_id.in_(cps)
        )
    )
    return {(cp, conn): power for cp, conn, power in rows}
