"""Storing meter samples: the rows, duplicates skipped, and the session bookkeeping they
drive (start meter, car full) — for one session here, for many in `session_batch`.

A sample's primary key holds what a replay repeats (the charger's own timestamp), so a
MeterValues sent again after a reboot is stored once; only samples that are new move the
session's state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from backend.db.models import Connector, MeterSample
from backend.services.bridge_records import CLOCK_CORRECTED, ChargerRef, record_incident
from backend.services.session_meters import (
    SampleIn,
    SessionLike,
    SessionRules,
    apply_readings,
    normalise,
    parse_time,
    readings_of,
    trusted_time,
)

KEY = ("session_id", "reported_at", "measurand", "phase", "location", "context")
TABLE = MeterSample.__table__


# PostgreSQL: the whole batch as one array per column, so the statement is the same
# whatever the batch size (a multi-row VALUES of 1,000 rows is 10,000 placeholders the
# driver parses every time).
_UNNEST = (
    "INSERT INTO meter_samples (session_id, reported_at, measurand, phase, location, context, "
    '"timestamp", value, unit, seq_no) '
    "SELECT * FROM unnest(%(session_id)s::integer[], %(reported_at)s::timestamptz[], "
    "%(measurand)s::varchar[], %(phase)s::varchar[], %(location)s::varchar[], "
    "%(context)s::varchar[], %(timestamp)s::timestamptz[], %(value)s::numeric[], "
    "%(unit)s::varchar[], %(seq_no)s::integer[]) "
    "ON CONFLICT DO NOTHING "
    "RETURNING session_id, reported_at, measurand, phase, location, context"
)
COLUMNS = (*KEY, "timestamp", "value", "unit", "seq_no")


def sample_rows(
    session: SessionLike,
    samples: Iterable[SampleIn],
    now: datetime,
    rules: SessionRules,
    seq_no: int | None,
) -> tuple[list[dict[str, Any]], bool]:
    """Rows for the samples (unreadable values dropped) and whether the charger's clock
    had to be overridden."""
    rows: list[dict[str, Any]] = []
    corrected = False
    for sample in samples:
        normalised = normalise(sample)
        if normalised is None:
            continue
        value, unit = normalised
        at, bad_clock = trusted_time(sample.reported_at, now, rules)
        corrected |= bad_clock
        # The key keeps the charger's own time, however wrong: a replay repeats it.
        reported = parse_time(sample.reported_at) or at
        rows.append(
            {
                "session_id": session.id,
                "reported_at": reported.astimezone(UTC),
                "measurand": sample.measurand[:50],
                "phase": sample.phase[:8],
                "location": sample.location[:8],
                "context": sample.context[:24],
                "timestamp": at,
                "value": value,
                "unit": unit[:16],
                "seq_no": seq_no,
            }
        )
    return rows, corrected


def insert_new(s: Session, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert, skipping samples stored before; return the rows that are new."""
    unique = {tuple(row[k] for k in KEY): row for row in reversed(rows)}
    if not unique:
        return []
    if s.get_bind().dialect.name == "postgresql":
        arrays = {c: [row[c] for row in unique.values()] for c in COLUMNS}
        returned = s.connection().exec_driver_sql(_UNNEST, arrays).all()
    else:  # SQLite, the embedded default: small volumes, the portable statement
        statement = sqlite.insert(TABLE).on_conflict_do_nothing()
        returned = s.execute(
            statement.returning(*(TABLE.c[k] for k in KEY)), list(unique.values())
        ).all()
    new = []
    for r in returned:
        key = (r[0], r[1].astimezone(UTC), *r[2:])
        if key in unique:
            new.append(unique[key])
    return new


def store_samples(
    s: Session,
    charger: ChargerRef,
    session: SessionLike,
    samples: Sequence[SampleIn],
    now: datetime,
    rules: SessionRules,
    *,
    seq_no: int | None = None,
    max_power_w: int | None = None,
) -> None:
    """One session's samples (e.g. StopTransaction.transactionData); no commit."""
    rows, corrected = sample_rows(session, samples, now, rules, seq_no)
    new = insert_new(s, rows)
    if session.meter_start_source == "zero" and max_power_w is None:
        max_power_w = connector_power(s, session)
    apply_readings(session, readings_of(new), rules, max_power_w)
    note_clock(s, charger, session, corrected, now)


def note_clock(
    s: Session, charger: ChargerRef, session: SessionLike, corrected: bool, now: datetime
) -> None:
    # Once per session: a charger without a clock would otherwise file one a second.
    if corrected and not session.clock_corrected:
        session.clock_corrected = True
        record_incident(s, CLOCK_CORRECTED, charger, now, session_id=session.id)


def connector_power(s: Session, session: SessionLike) -> int | None:
    return s.scalar(
        select(Connector.max_power_w).where(
            Connector.charge_point_id == session.charge_point_id,
            Connector.connector_id == session.connector_id,
        )
    )
