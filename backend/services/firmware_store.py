"""Firmware jobs against the database: what the bridge's firmware manager calls (through
its `Database`, in worker threads). The rules are `firmware_jobs`'; each function loads
the job rows, applies them, and commits."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from backend.db.models import ChargePoint, FirmwareCampaign, FirmwareJob
from backend.services import firmware_jobs as fj
from backend.services.firmware_jobs import FirmwareRules, Job

JOB_FIELDS = (
    "status",
    "attempts",
    "charger_status",
    "last_error",
    "installed_version",
    "next_attempt_at",
    "sent_at",
    "progress_at",
    "finished_at",
)


@dataclass(frozen=True)
class Dispatch:
    """An UpdateFirmware to send now."""

    job_id: int
    identity: str
    location: str
    retrieve_at: datetime
    attempt: int


def job_of(row: FirmwareJob, campaign: FirmwareCampaign) -> Job:
    values = {name: getattr(row, name) for name in JOB_FIELDS}
    return Job(max_attempts=campaign.max_retries + 1, **values)


def _save(row: FirmwareJob, job: Job, now: datetime) -> bool:
    changed = False
    for name in JOB_FIELDS:
        value = getattr(job, name)
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    if changed:
        row.updated_at = now
    return changed


def _rows(
    s: Session, query: Select[tuple[FirmwareJob, FirmwareCampaign]]
) -> list[tuple[FirmwareJob, FirmwareCampaign]]:
    locked = query.with_for_update(of=FirmwareJob, skip_locked=True)
    return [(job, campaign) for job, campaign in s.execute(locked).all()]


def _jobs() -> Select[tuple[FirmwareJob, FirmwareCampaign]]:
    return select(FirmwareJob, FirmwareCampaign).join(
        FirmwareCampaign, FirmwareCampaign.id == FirmwareJob.campaign_id
    )


def claim_due(
    s: Session, identities: Iterable[str], now: datetime, limit: int = 100
) -> list[Dispatch]:
    """Jobs due on chargers connected here, marked sent (one per charger at a time, the
    oldest campaign first). Commits."""
    names = list(identities)
    if not names:
        return []
    busy = (
        select(FirmwareJob.charge_point_id)
        .where(FirmwareJob.status.in_(fj.IN_PROGRESS))
        .scalar_subquery()
    )
    query = (
        _jobs()
        .add_columns(ChargePoint.ocpp_identity)
        .join(ChargePoint, ChargePoint.id == FirmwareJob.charge_point_id)
        .where(
            ChargePoint.ocpp_identity.in_(names),
            FirmwareJob.status == fj.PENDING,
            FirmwareCampaign.retrieve_at <= now,
            (FirmwareJob.next_attempt_at.is_(None)) | (FirmwareJob.next_attempt_at <= now),
            FirmwareJob.charge_point_id.not_in(busy),
        )
        .order_by(FirmwareCampaign.id, FirmwareJob.id)
        .limit(limit)
        .with_for_update(of=FirmwareJob, skip_locked=True)
    )
    out: list[Dispatch] = []
    chargers: set[int] = set()
    for row, campaign, identity in s.execute(query).all():
        if row.charge_point_id in chargers:
            continue  # one update at a time per charger; the next waits its turn
        chargers.add(row.charge_point_id)
        job = fj.sent(job_of(row, campaign), now)
        _save(row, job, now)
        retrieve_at = max(campaign.retrieve_at, now)
        out.append(Dispatch(row.id, identity, campaign.location, retrieve_at, job.attempts))
    s.commit()
    return out


def send_answered(
    s: Session, job_id: int, refused: str | None, now: datetime, rules: FirmwareRules
) -> None:
    """The charger's answer to UpdateFirmware: `refused` says why it was not taken
    (Rejected, offline, no answer); None when accepted. Commits."""
    if refused is None:
        return
    for row, campaign in _rows(s, _jobs().where(FirmwareJob.id == job_id)):
        job = job_of(row, campaign)
        if job.status == fj.SENT:
            _save(row, fj.attempt_failed(job, refused, now, rules), now)
    s.commit()


def firmware_status(
    s: Session,
    identity: str,
    status: str,
    request_id: int | None,
    now: datetime,
    rules: FirmwareRules,
) -> int | None:
    """A FirmwareStatusNotification: the job it belongs to moves on. Returns its id."""
    query = (
        _jobs()
        .join(ChargePoint, ChargePoint.id == FirmwareJob.charge_point_id)
        .where(ChargePoint.ocpp_identity == identity)
    )
    if request_id is not None:
        query = query.where(FirmwareJob.id == request_id)
    else:
        query = query.where(FirmwareJob.status.in_(fj.IN_PROGRESS)).order_by(
            FirmwareJob.sent_at.desc()
        )
    rows = _rows(s, query.limit(1))
    if not rows:
        s.rollback()
        return None
    row, campaign = rows[0]
    _save(row, fj.progressed(job_of(row, campaign), status, now, rules), now)
    s.commit()
    return row.id


def charger_booted(
    s: Session, identity: str, version: str, now: datetime, rules: FirmwareRules
) -> None:
    """A boot tells the firmware version the charger runs: an installation is confirmed
    (or found not to have taken). Commits."""
    query = (
        _jobs()
        .join(ChargePoint, ChargePoint.id == FirmwareJob.charge_point_id)
        .where(
            ChargePoint.ocpp_identity == identity,
            FirmwareJob.status.in_((*fj.IN_PROGRESS, fj.INSTALLED)),
            FirmwareJob.installed_version == "",
        )
    )
    for row, campaign in _rows(s, query):
        job = fj.booted(job_of(row, campaign), version, campaign.firmware_version, now, rules)
        _save(row, job, now)
    s.commit()


def fail_stalled(s: Session, now: datetime, rules: FirmwareRules) -> int:
    """Attempts with no word from the charger for too long have failed. Commits."""
    cutoff = now - rules.progress_timeout
    query = _jobs().where(FirmwareJob.status.in_(fj.IN_PROGRESS), FirmwareJob.progress_at < cutoff)
    failed = 0
    for row, campaign in _rows(s, query):
        failed += _save(row, fj.stalled(job_of(row, campaign), now, rules), now)
    s.commit()
    return failed
