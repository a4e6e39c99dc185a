"""One charger's firmware job as a state machine (firmware_jobs): progress words of both
OCPP versions, failures with retries, the boot that confirms the version, stalls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.services import firmware_jobs as fj
from backend.services.firmware_jobs import FirmwareRules, Job

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
RULES = FirmwareRules(retry_delay=timedelta(minutes=5), progress_timeout=timedelta(minutes=30))


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def run(job: Job, *words: str, now: datetime = T0) -> Job:
    for word in words:
        job = fj.progressed(job, word, now, RULES)
    return job


def test_the_happy_path_of_1_6():
    job = fj.sent(Job(max_attempts=3), T0)
    assert (job.status, job.attempts, job.sent_at) == (fj.SENT, 1, T0)
    job = run(job, "Downloading")
    assert job.status == fj.DOWNLOADING
    job = run(job, "Downloaded", "Installing")
    assert job.status == fj.INSTALLING
    job = run(job, "Installed", now=at(3))
    assert (job.status, job.finished_at, job.charger_status) == (fj.INSTALLED, at(3), "Installed")
    job = fj.booted(job, "2.0.0", "2.0.0", at(4), RULES)
    assert (job.status, job.installed_version) == (fj.INSTALLED, "2.0.0")


@pytest.mark.parametrize(
    ("word", "step"),
    [
        ("DownloadScheduled", fj.SENT),
        ("DownloadPaused", fj.DOWNLOADING),
        ("SignatureVerified", fj.DOWNLOADED),
        ("InstallScheduled", fj.DOWNLOADED),
        ("InstallRebooting", fj.INSTALLING),
    ],
)
def test_2_0_1_words_map_onto_the_steps(word, step):
    assert run(fj.sent(Job(), T0), word).status == step


@pytest.mark.parametrize(
    "word",
    ["DownloadFailed", "InstallationFailed", "InvalidSignature", "InstallVerificationFailed"],
)
def test_a_failure_with_attempts_left_is_retried_after_the_delay(word):
    job = run(fj.sent(Job(max_attempts=2), T0), "Downloading", word, now=at(1))
    assert job.status == fj.PENDING
    assert job.last_error == f"The charger reported {word}"
    assert job.next_attempt_at == at(6)
    assert not job.due(at(5)) and job.due(at(6))
    retried = fj.sent(job, at(6))
    assert (retried.status, retried.attempts, retried.charger_status) == (fj.SENT, 2, "")
    final = run(retried, word, now=at(7))
    assert (final.status, final.finished_at) == (fj.FAILED, at(7))


def test_no_retries_fails_at_the_first_failure():
    job = run(fj.sent(Job(max_attempts=1), T0), "DownloadFailed")
    assert job.status == fj.FAILED


def test_news_of_a_judged_attempt_changes_nothing():
    failed = run(fj.sent(Job(max_attempts=1), T0), "DownloadFailed")
    assert run(failed, "Installed") == failed
    pending = Job()
    assert run(pending, "Downloading") == pending


def test_idle_is_a_sign_of_life_not_a_step():
    job = run(fj.sent(Job(), T0), "Downloading")
    idle = fj.progressed(job, "Idle", at(10), RULES)
    assert (idle.status, idle.progress_at) == (fj.DOWNLOADING, at(10))


def test_no_progress_within_the_timeout_is_a_failed_attempt():
    job = run(fj.sent(Job(max_attempts=2), T0), "Downloading")
    assert fj.stalled(job, at(30), RULES) == job
    stalled = fj.stalled(job, at(31), RULES)
    assert stalled.status == fj.PENDING
    assert stalled.last_error == "No progress reported within 1800 s"


def test_booting_into_another_version_after_installed_fails_the_attempt():
    job = run(fj.sent(Job(max_attempts=2), T0), "Installed")
    job = fj.booted(job, "1.0.0", "2.0.0", at(2), RULES)
    assert job.status == fj.PENDING
    assert job.last_error == "Reported Installed, then booted with 1.0.0"


def test_booting_with_the_target_version_confirms_even_without_installed():
    job = run(fj.sent(Job(), T0), "Installing")
    job = fj.booted(job, "2.0.0", "2.0.0", at(2), RULES)
    assert (job.status, job.installed_version, job.finished_at) == (fj.INSTALLED, "2.0.0", at(2))


def test_a_reboot_mid_download_with_the_old_version_is_not_a_failure():
    job = run(fj.sent(Job(), T0), "Downloading")
    assert fj.booted(job, "1.0.0", "2.0.0", at(1), RULES) == job
