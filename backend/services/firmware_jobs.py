"""One charger's firmware update: the job's state machine, and the bridge's side of it
against the database (domain.md §3, "charger software is kept up to date").

pending ──send──▶ sent ──Downloading──▶ downloading ──Downloaded──▶ downloaded
  ▲                                          ──Installing──▶ installing ──Installed──▶ installed
  └── a failed attempt with attempts left (after `retry_delay`)      (verified at the next boot)
failed: DownloadFailed, InstallationFailed, InvalidSignature, …, UpdateFirmware refused,
no progress within `progress_timeout`, or a boot into another version after Installed —
once 1 + max_retries attempts are used.

OCPP 1.6's FirmwareStatusNotification has no requestId: it belongs to the charger's job
in progress. 2.0.1's requestId is the job id.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

PENDING, SENT, DOWNLOADING, DOWNLOADED = "pending", "sent", "downloading", "downloaded"
INSTALLING, INSTALLED, FAILED = "installing", "installed", "failed"
IN_PROGRESS = (SENT, DOWNLOADING, DOWNLOADED, INSTALLING)
STATUSES = (PENDING, SENT, DOWNLOADING, DOWNLOADED, INSTALLING, INSTALLED, FAILED)
# The charger's words (1.6 and 2.0.1) as job steps.
PROGRESS = {
    "DownloadScheduled": SENT,
    "Downloading": DOWNLOADING,
    "DownloadPaused": DOWNLOADING,
    "Downloaded": DOWNLOADED,
    "SignatureVerified": DOWNLOADED,
    "InstallScheduled": DOWNLOADED,
    "Installing": INSTALLING,
    "InstallRebooting": INSTALLING,
    "Installed": INSTALLED,
}
FAILURES = {
    "DownloadFailed",
    "InstallationFailed",
    "InvalidSignature",
    "InstallVerificationFailed",
}


@dataclass(frozen=True)
class FirmwareRules:
    retry_delay: timedelta = timedelta(minutes=5)
    progress_timeout: timedelta = timedelta(hours=1)  # no word from the charger this long


@dataclass(frozen=True)
class Job:
    status: str = PENDING
    attempts: int = 0
    max_attempts: int = 1
    charger_status: str = ""
    last_error: str = ""
    installed_version: str = ""
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    progress_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def in_progress(self) -> bool:
        return self.status in IN_PROGRESS

    def due(self, now: datetime) -> bool:
        return self.status == PENDING and (
            self.next_attempt_at is None or self.next_attempt_at <= now
        )


def sent(job: Job, now: datetime) -> Job:
    """UpdateFirmware is on its way: one more attempt."""
    return replace(
        job,
        status=SENT,
        attempts=job.attempts + 1,
        charger_status="",
        next_attempt_at=None,
        sent_at=now,
        progress_at=now,
    )


def attempt_failed(job: Job, reason: str, now: datetime, rules: FirmwareRules) -> Job:
    if job.attempts >= job.max_attempts:
        return replace(job, status=FAILED, last_error=reason[:300], finished_at=now)
    return replace(
        job, status=PENDING, last_error=reason[:300], next_attempt_at=now + rules.retry_delay
    )


def progressed(job: Job, charger_status: str, now: datetime, rules: FirmwareRules) -> Job:
    """A FirmwareStatusNotification for this job."""
    if not job.in_progress:
        return job  # late or repeated news of an attempt already judged
    job = replace(job, charger_status=charger_status[:40], progress_at=now)
    if charger_status in FAILURES:
        return attempt_failed(job, f"The charger reported {charger_status}", now, rules)
    step = PROGRESS.get(charger_status)
    if step is None:
        return job  # Idle and the like: no step, but a sign of life
    if step == INSTALLED:
        return replace(job, status=INSTALLED, finished_at=now, last_error="")
    return replace(job, status=step)


def booted(job: Job, version: str, target: str, now: datetime, rules: FirmwareRules) -> Job:
    """The charger booted (BootNotification) and says which firmware it runs."""
    if version == target and (job.in_progress or job.status == INSTALLED):
        return replace(
            job, status=INSTALLED, installed_version=version, finished_at=job.finished_at or now
        )
    if job.status == INSTALLED and not job.installed_version:
        reason = f"Reported Installed, then booted with {version or 'no version'}"
        return attempt_failed(replace(job, charger_status="Booted"), reason, now, rules)
    return job


def stalled(job: Job, now: datetime, rules: FirmwareRules) -> Job:
    if job.in_progress and job.progress_at and now - job.progress_at > rules.progress_timeout:
        seconds = int(rules.progress_timeout.total_seconds())
        return attempt_failed(job, f"No progress reported within {seconds} s", now, rules)
    return job
