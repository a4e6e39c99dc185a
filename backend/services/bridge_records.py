"""Who reported something (a connected charger), and the incidents a person should review.

Incidents are what the bridge could not simply believe or apply: a stop for a
transaction we never saw, a charger clock from 1970, a session closed because the
charger started another one on the same connector. The bridge acknowledges the charger
either way (a charger whose message is refused resends it forever) and leaves the
judgement to operations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import BridgeIncident

UNKNOWN_TRANSACTION_STOP = "unknown_transaction_stop"
UNKNOWN_TRANSACTION_METER = "unknown_transaction_meter"
CLOCK_CORRECTED = "clock_corrected"
SESSION_INTERRUPTED = "session_interrupted"
UNPLUG_NOT_REPORTED = "unplug_not_reported"
LATE_STOP = "late_stop"
STARTED_IMPLICITLY = "started_implicitly"
METER_START_UNKNOWN = "meter_start_unknown"
UNREADABLE_SAMPLE = "unreadable_sample"


@dataclass(frozen=True)
class ChargerRef:
    """The connected charger a message came from, as authenticated at the handshake."""

    charge_point_id: int
    site_id: int
    identity: str
    ocpp_version: str  # "1.6" | "2.0.1"


def record_incident(
    s: Session,
    kind: str,
    charger: ChargerRef | None,
    now: datetime,
    *,
    session_id: int | None = None,
    **detail: Any,
) -> BridgeIncident:
    """Add an incident to the caller's transaction (the caller commits)."""
    incident = BridgeIncident(
        kind=kind,
        ocpp_identity=charger.identity if charger else "",
        charge_point_id=charger.charge_point_id if charger else None,
        session_id=session_id,
        detail=json.dumps(detail, default=str, sort_keys=True),
        occurred_at=now,
    )
    s.add(incident)
    return incident


def open_incidents(s: Session, kind: str | None = None) -> list[BridgeIncident]:
    query = select(BridgeIncident).where(BridgeIncident.reviewed_at.is_(None))
    if kind is not None:
        query = query.where(BridgeIncident.kind == kind)
    return list(s.scalars(query.order_by(BridgeIncident.occurred_at, BridgeIncident.id)))


def mark_reviewed(s: Session, incident_id: int, now: datetime) -> None:
    incident = s.get(BridgeIncident, incident_id)
    if incident is not None and incident.reviewed_at is None:
        incident.reviewed_at = now
    s.commit()
