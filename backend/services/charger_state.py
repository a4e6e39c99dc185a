"""What chargers tell us about themselves: who they are (handshake), boot, connector
statuses, online/offline and when they were last heard from.

Boot decisions: a charger the operator refused (`ChargerBootPolicy`) is Rejected; one not
yet commissioned is Pending (it stays connected and retries; transactions are refused
until it is accepted); otherwise Accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from backend.db.models import ChargePoint, ChargerBootPolicy, ChargingSession, Connector
from backend.db.models.enums import ChargePointStatus
from backend.services.bridge_records import ChargerRef
from backend.services.session_meters import SessionRules, apply_status, trusted_time
from backend.services.session_stop import OPEN, end_unplugged

ACCEPTED, PENDING, REJECTED = "Accepted", "Pending", "Rejected"
# A charger-wide (connector 0) status, as the charge point's own status.
CHARGER_STATUS = {
    "Faulted": ChargePointStatus.FAULTED.value,
    "Unavailable": ChargePointStatus.UNAVAILABLE.value,
}


@dataclass(frozen=True)
class ChargerFacts:
    """A charge point as the handshake needs it."""

    charge_point_id: int
    site_id: int
    identity: str
    password_hash: str | None
    registration: str  # Accepted | Pending | Rejected


def load_charger(s: Session, identity: str) -> ChargerFacts | None:
    row = s.execute(
        select(
            ChargePoint.id,
            ChargePoint.site_id,
            ChargePoint.ocpp_identity,
            ChargePoint.password_hash,
            ChargePoint.commissioned,
            ChargerBootPolicy.rejected,
        )
        .outerjoin(ChargerBootPolicy, ChargerBootPolicy.charge_point_id == ChargePoint.id)
        .where(ChargePoint.ocpp_identity == identity)
    ).first()
    if row is None:
        return None
    cp_id, site_id, ident, password_hash, commissioned, rejected = row
    return ChargerFacts(cp_id, site_id, ident, password_hash, _registration(commissioned, rejected))


def _registration(commissioned: bool, rejected: bool | None) -> str:
    if rejected:
        return REJECTED
    return ACCEPTED if commissioned else PENDING


@dataclass(frozen=True)
class BootIn:
    vendor: str
    model: str
    serial_number: str = ""
    firmware_version: str = ""


def boot(s: Session, charger: ChargerRef, info: BootIn, now: datetime) -> str:
    """Record what the charger says it is; answer Accepted, Pending or Rejected. Commits."""
    cp = s.get(ChargePoint, charger.charge_point_id)
    if cp is None:
        return REJECTED
    cp.vendor = info.vendor[:50] or cp.vendor
    cp.model = info.model[:50] or cp.model
    cp.serial_number = info.serial_number[:50] or cp.serial_number
    cp.firmware_version = info.firmware_version[:50]
    cp.ocpp_version = charger.ocpp_version
    cp.last_seen_at = now
    rejected = s.scalar(
        select(ChargerBootPolicy.rejected).where(ChargerBootPolicy.charge_point_id == cp.id)
    )
    decision = _registration(cp.commissioned, rejected)
    s.commit()
    return decision


def set_rejected(
    s: Session, charge_point_id: int, rejected: bool, note: str, now: datetime
) -> None:
    """The operator refuses (or stops refusing) a charger at boot. Commits."""
    policy = s.get(ChargerBootPolicy, charge_point_id)
    if policy is None:
        policy = ChargerBootPolicy(charge_point_id=charge_point_id)
        s.add(policy)
    policy.rejected, policy.note, policy.updated_at = rejected, note[:200], now
    s.commit()


def set_online(s: Session, charger: ChargerRef, online: bool, now: datetime) -> None:
    values: dict[str, object] = {
        "status": (ChargePointStatus.ONLINE if online else ChargePointStatus.OFFLINE).value,
        "last_seen_at": now,
    }
    if online:
        values["ocpp_version"] = charger.ocpp_version
    s.execute(update(ChargePoint).where(ChargePoint.id == charger.charge_point_id).values(values))
    s.commit()


def flush_last_seen(s: Session, seen: Mapping[int, datetime]) -> None:
    """Many chargers' last-heard times in one executemany (heartbeats are not written
    one by one: 2,000 chargers every 10 s would be 200 commits a second)."""
    if not seen:
        return
    s.connection().execute(
        update(ChargePoint.__table__)
        .where(ChargePoint.__table__.c.id == bindparam("cp_id"))
        .values(last_seen_at=bindparam("seen_at")),
        [{"cp_id": cp_id, "seen_at": at} for cp_id, at in seen.items()],
    )
    s.commit()


@dataclass(frozen=True)
class StatusIn:
    connector_id: int  # 0 = the charger itself
    status: str  # a 1.6 ChargePointStatus word (2.0.1 maps onto them)
    error_code: str = "NoError"
    timestamp: str | None = None


def record_status(
    s: Session, charger: ChargerRef, status: StatusIn, now: datetime, rules: SessionRules
) -> list[int]:
    """A connector's new status: stored, and applied to the session on it (car full,
    unplugged). Returns the sessions that ended with it. Commits."""
    at, _ = trusted_time(status.timestamp, now, rules)
    if status.connector_id == 0:
        s.execute(
            update(ChargePoint)
            .where(ChargePoint.id == charger.charge_point_id)
            .values(status=CHARGER_STATUS.get(status.status, ChargePointStatus.ONLINE.value))
        )
        s.commit()
        return []
    s.execute(
        update(Connector)
        .where(
            Connector.charge_point_id == charger.charge_point_id,
            Connector.connector_id == status.connector_id,
        )
        .values(status=status.status[:16], status_at=at)
    )
    session = s.scalar(
        select(ChargingSession)
        .where(
            ChargingSession.charge_point_id == charger.charge_point_id,
            ChargingSession.connector_id == status.connector_id,
            ChargingSession.status.in_(OPEN),
        )
        .order_by(ChargingSession.started_at.desc())
        .limit(1)
        .with_for_update()
    )
    ended: list[int] = []
    if session is not None:
        apply_status(session, status.status, at)
        ended = end_unplugged(s, session, now)
    s.commit()
    return ended
