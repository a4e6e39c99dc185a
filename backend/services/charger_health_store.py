"""The health ladder (`charger_health.decide`) against the database, offline detection,
and the history operators read. Called by the bridge's health monitor through its
`Database` (worker threads) and by the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.db.models import ChargePoint, ChargerHealth, HealthAction, Site
from backend.db.models.enums import ChargePointStatus
from backend.services.charger_health import (
    MISSED_HEARTBEATS,
    OFFLINE,
    OK,
    ONLINE,
    RESETS,
    ChargerInfo,
    HealthPolicy,
    Ladder,
    Observation,
    OperatorAlerts,
    decide,
)


@dataclass(frozen=True)
class Decision:
    reset: str | None = None
    action_id: int | None = None
    state: str = OK


def charger_info(s: Session, identity: str) -> ChargerInfo | None:
    row = s.execute(
        select(ChargePoint.id, Site.operator_id, ChargePoint.ocpp_identity, Site.name)
        .join(Site, Site.id == ChargePoint.site_id)
        .where(ChargePoint.ocpp_identity == identity)
    ).first()
    return ChargerInfo(*row) if row else None


def _ladder(row: ChargerHealth) -> Ladder:
    return Ladder(
        row.state,
        row.step,
        row.step_at,
        row.fault_since,
        row.error_code,
        row.resets_in_episode,
        row.failed_ladders,
        row.next_attempt_at,
    )


def resets_within(s: Session, charge_point_id: int, since: datetime) -> int:
    return (
        s.scalar(
            select(func.count(HealthAction.id)).where(
                HealthAction.charge_point_id == charge_point_id,
                HealthAction.action.in_(RESETS),
                HealthAction.automatic.is_(True),
                HealthAction.at > since,
            )
        )
        or 0
    )


def evaluate(
    s: Session,
    identity: str,
    obs: Observation,
    now: datetime,
    policy: HealthPolicy,
    alerts: OperatorAlerts,
) -> Decision:
    """Apply the ladder to what the charger reports now; record every step. Commits.

    A reset to send comes back in the decision with the id of its HealthAction, so the
    caller can record the charger's answer (`reset_answered`)."""
    info = charger_info(s, identity)
    if info is None or obs.faulted is None:
        return Decision()
    row = s.get(ChargerHealth, info.charge_point_id, with_for_update=True)
    if row is None:
        if not obs.faulted:
            return Decision()  # healthy and never was otherwise: nothing to write
        row = ChargerHealth(charge_point_id=info.charge_point_id, **vars(Ladder()))
        s.add(row)
    before = _ladder(row)
    resets = resets_within(s, info.charge_point_id, now - policy.window)
    out = decide(before, obs, now, resets, policy)
    if out.ladder == before and not out.notes:
        s.rollback()
        return Decision(state=before.state)
    for name, value in vars(out.ladder).items():
        setattr(row, name, value)
    row.updated_at = now
    reset_action = None
    for note in out.notes:
        action = HealthAction(
            charge_point_id=info.charge_point_id,
            action=note.action,
            reason=note.reason[:300],
            result=note.result,
            automatic=True,
            at=now,
        )
        s.add(action)
        if note.action == out.reset:
            reset_action = action
    s.flush()
    action_id = reset_action.id if reset_action is not None else None
    s.commit()
    for alert in out.alerts:
        alerts.send(s, info, alert, out.ladder.error_code or before.error_code)
    return Decision(out.reset, action_id, out.ladder.state)


def reset_answered(s: Session, action_id: int, result: str) -> None:
    """The charger's answer to an automatic reset (or why there was none). Commits."""
    s.execute(update(HealthAction).where(HealthAction.id == action_id).values(result=result[:100]))
    s.commit()


def record_action(
    s: Session,
    charge_point_id: int,
    action: str,
    reason: str,
    result: str,
    now: datetime,
    *,
    user_id: int | None = None,
) -> HealthAction:
    """An operator's command, as part of the charger's history. Commits."""
    row = HealthAction(
        charge_point_id=charge_point_id,
        action=action,
        reason=reason[:300],
        result=result[:100],
        automatic=user_id is None,
        user_id=user_id,
        at=now,
    )
    s.add(row)
    s.commit()
    return row


def mark_silent_offline(s: Session, now: datetime, interval_s: float) -> list[int]:
    """Chargers not heard from for three heartbeat intervals are offline; each one is
    recorded once (a row already offline is not touched again). Commits."""
    silence = MISSED_HEARTBEATS * interval_s
    cutoff = now - timedelta(seconds=silence)
    ids = list(
        s.scalars(
            update(ChargePoint)
            .where(
                ChargePoint.last_seen_at < cutoff,
                ChargePoint.status != ChargePointStatus.OFFLINE.value,
            )
            .values(status=ChargePointStatus.OFFLINE.value)
            .returning(ChargePoint.id)
        )
    )
    rows = {r.charge_point_id: r for r in _health_rows(s, ids)}
    for cp_id in ids:
        row = rows.get(cp_id)
        if row is None:
            row = ChargerHealth(charge_point_id=cp_id, **vars(Ladder()), updated_at=now)
            s.add(row)
        row.silent_since = now
        s.add(
            HealthAction(
                charge_point_id=cp_id,
                action=OFFLINE,
                reason=f"Not heard from for more than {silence:g} s "
                f"({MISSED_HEARTBEATS} heartbeat intervals)",
                result="offline",
                at=now,
            )
        )
    s.commit()
    return ids


def _health_rows(s: Session, ids: list[int]) -> list[ChargerHealth]:
    if not ids:
        return []
    return list(s.scalars(select(ChargerHealth).where(ChargerHealth.charge_point_id.in_(ids))))


def mark_heard_again(
    s: Session, identities: list[str], now: datetime, interval_s: float
) -> list[int]:
    """Connected chargers that were marked offline for silence and have spoken since
    are online again (whatever happened in between: a reconnect sets the status
    itself, but the history still owes the "online"). Commits."""
    if not identities:
        return []
    cutoff = now - timedelta(seconds=MISSED_HEARTBEATS * interval_s)
    # Connected here and talking, yet offline: a stale socket of the charger closed
    # late on another node and marked it offline there. It is online.
    s.execute(
        update(ChargePoint)
        .where(
            ChargePoint.ocpp_identity.in_(identities),
            ChargePoint.status == ChargePointStatus.OFFLINE.value,
            ChargePoint.last_seen_at >= cutoff,
        )
        .values(status=ChargePointStatus.ONLINE.value)
    )
    rows = s.execute(
        select(ChargerHealth, ChargePoint)
        .join(ChargePoint, ChargePoint.id == ChargerHealth.charge_point_id)
        .where(
            ChargerHealth.silent_since.is_not(None),
            ChargePoint.ocpp_identity.in_(identities),
            ChargePoint.last_seen_at >= cutoff,
        )
        .with_for_update(of=ChargerHealth, skip_locked=True)
    ).all()
    ids = []
    for health, cp in rows:
        health.silent_since = None
        ids.append(cp.id)
        s.add(
            HealthAction(
                charge_point_id=cp.id,
                action=ONLINE,
                reason="Heard from again",
                result="online",
                at=now,
            )
        )
    s.commit()
    return ids


def actions(
    s: Session, charge_point_id: int, *, offset: int = 0, limit: int = 50
) -> tuple[list[HealthAction], int]:
    """A charger's health history, newest first, and how many entries there are."""
    where = HealthAction.charge_point_id == charge_point_id
    total = s.scalar(select(func.count(HealthAction.id)).where(where)) or 0
    page = s.scalars(
        select(HealthAction)
        .where(where)
        .order_by(HealthAction.at.desc(), HealthAction.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(page), total


def current(s: Session, charge_point_id: int) -> Ladder:
    row = s.get(ChargerHealth, charge_point_id)
    return _ladder(row) if row is not None else Ladder()
