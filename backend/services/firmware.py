"""Firmware campaigns, operator side: schedule an update for a charger model, and follow
it charger by charger (domain.md §3, "charger software is kept up to date").

A campaign takes the operator's charge points of that model (and vendor, when given) as
they are when it is created: one job each. A charger already on the target version is
done at once. The bridge sends UpdateFirmware when the campaign is due (to a charger that
is offline then, as soon as it connects) and follows it (`firmware_jobs`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.models import ChargePoint, FirmwareCampaign, FirmwareJob, Site
from backend.errors import InvalidInput, NotFound
from backend.services import firmware_jobs as fj
from backend.services.operators import get_operator
from backend.services.visibility import valid_id

SCHEMES = {"http", "https", "ftp", "ftps", "sftp"}  # what chargers download from
MAX_RETRIES = 10


@dataclass(frozen=True)
class CampaignIn:
    model: str
    firmware_version: str
    location: str
    retrieve_at: datetime
    max_retries: int = 2
    vendor: str = ""


def _check(data: CampaignIn) -> None:
    errors: dict[str, list[str]] = {}
    url = urlsplit(data.location)
    if url.scheme.lower() not in SCHEMES or not url.netloc:
        errors["location"] = [
            f"A URL the charger can download from ({', '.join(sorted(SCHEMES))})."
        ]
    if data.retrieve_at.tzinfo is None:
        errors["retrieve_at"] = ["Give the time zone, e.g. 2026-12-01T02:00:00Z."]
    if not 0 <= data.max_retries <= MAX_RETRIES:
        errors["max_retries"] = [f"From 0 to {MAX_RETRIES}."]
    if not data.model.strip():
        errors["model"] = ["The charger model, as the chargers report it at boot."]
    if not data.firmware_version.strip():
        errors["firmware_version"] = ["The version the chargers will report after the update."]
    if errors:
        raise InvalidInput("Some fields are not valid.", errors=errors)


def create_campaign(
    s: Session, operator_id: int, data: CampaignIn, user_id: int | None, now: datetime
) -> FirmwareCampaign:
    """Schedule the update for every matching charge point of the operator. Commits."""
    get_operator(s, operator_id)
    _check(data)
    query = (
        select(ChargePoint)
        .join(Site, Site.id == ChargePoint.site_id)
        .where(Site.operator_id == operator_id, ChargePoint.model == data.model.strip())
        .order_by(ChargePoint.id)
    )
    if data.vendor.strip():
        query = query.where(ChargePoint.vendor == data.vendor.strip())
    chargers = list(s.scalars(query))
    if not chargers:
        what = f"{data.vendor.strip()} {data.model.strip()}".strip()
        raise InvalidInput(
            f"None of your charge points is a {what}.",
            errors={"model": ["No charge point of yours reports this model (and vendor)."]},
        )
    campaign = FirmwareCampaign(
        operator_id=operator_id,
        vendor=data.vendor.strip(),
        model=data.model.strip(),
        firmware_version=data.firmware_version.strip(),
        location=data.location,
        retrieve_at=data.retrieve_at,
        max_retries=data.max_retries,
        created_by=user_id,
        created_at=now,
    )
    s.add(campaign)
    s.flush()
    for cp in chargers:
        done = cp.firmware_version == campaign.firmware_version
        s.add(
            FirmwareJob(
                campaign_id=campaign.id,
                charge_point_id=cp.id,
                status=fj.INSTALLED if done else fj.PENDING,
                version_before=cp.firmware_version,
                installed_version=cp.firmware_version if done else "",
                finished_at=now if done else None,
                updated_at=now,
            )
        )
    s.commit()
    return campaign


def get_campaign(s: Session, operator_id: int, campaign_id: int) -> FirmwareCampaign:
    get_operator(s, operator_id)
    campaign = s.get(FirmwareCampaign, campaign_id) if valid_id(campaign_id) else None
    if campaign is None or campaign.operator_id != operator_id:
        raise NotFound("No such firmware campaign.")
    return campaign


def list_campaigns(
    s: Session, operator_id: int, *, offset: int = 0, limit: int = 50
) -> tuple[list[FirmwareCampaign], int]:
    get_operator(s, operator_id)
    where = FirmwareCampaign.operator_id == operator_id
    total = s.scalar(select(func.count(FirmwareCampaign.id)).where(where)) or 0
    page = s.scalars(
        select(FirmwareCampaign)
        .where(where)
        .order_by(FirmwareCampaign.created_at.desc(), FirmwareCampaign.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(page), total


def _state(counts: Counter[str], campaign: FirmwareCampaign, now: datetime) -> str:
    if sum(counts.values()) == counts[fj.INSTALLED] + counts[fj.FAILED]:
        return "completed"
    return "scheduled" if campaign.retrieve_at > now else "running"


def summaries(s: Session, campaigns: list[FirmwareCampaign], now: datetime) -> list[dict[str, Any]]:
    """Each campaign with how many of its chargers are at each step."""
    ids = [c.id for c in campaigns]
    counts: dict[int, Counter[str]] = {i: Counter() for i in ids}
    if ids:
        rows = s.execute(
            select(FirmwareJob.campaign_id, FirmwareJob.status, func.count(FirmwareJob.id))
            .where(FirmwareJob.campaign_id.in_(ids))
            .group_by(FirmwareJob.campaign_id, FirmwareJob.status)
        )
        for campaign_id, status, n in rows:
            counts[campaign_id][status] = n
    return [_summary(c, counts[c.id], now) for c in campaigns]


def _summary(c: FirmwareCampaign, counts: Counter[str], now: datetime) -> dict[str, Any]:
    return {
        "id": c.id,
        "operator_id": c.operator_id,
        "vendor": c.vendor,
        "model": c.model,
        "firmware_version": c.firmware_version,
        "location": c.location,
        "retrieve_at": c.retrieve_at,
        "max_retries": c.max_retries,
        "created_at": c.created_at,
        "state": _state(counts, c, now),
        "chargers": sum(counts.values()),
        "counts": {status: counts[status] for status in fj.STATUSES},
    }


def report(s: Session, campaign: FirmwareCampaign, now: datetime) -> dict[str, Any]:
    """The campaign with each charger's job: step, attempts, the charger's last word."""
    rows = s.execute(
        select(FirmwareJob, ChargePoint.ocpp_identity)
        .join(ChargePoint, ChargePoint.id == FirmwareJob.charge_point_id)
        .where(FirmwareJob.campaign_id == campaign.id)
        .order_by(FirmwareJob.id)
    ).all()
    counts: Counter[str] = Counter(job.status for job, _ in rows)
    out = _summary(campaign, counts, now)
    out["jobs"] = [
        {
            "id": job.id,
            "charge_point_id": job.charge_point_id,
            "ocpp_identity": identity,
            "status": job.status,
            "attempts": job.attempts,
            "max_attempts": campaign.max_retries + 1,
            "charger_status": job.charger_status,
            "last_error": job.last_error,
            "version_before": job.version_before,
            "installed_version": job.installed_version,
            "next_attempt_at": job.next_attempt_at,
            "sent_at": job.sent_at,
            "finished_at": job.finished_at,
            "updated_at": job.updated_at,
        }
        for job, identity in rows
    ]
    return out
