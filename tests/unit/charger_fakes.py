"""Fakes of the bridge's ports for unit tests: a charger connection that answers
commands from a script, and in-memory health and firmware stores that apply the same
pure rules as the database-backed ones."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from backend.services import charger_gateway as gw
from backend.services import firmware_jobs as fj
from backend.services.charger_health import (
    RESETS,
    HealthPolicy,
    Ladder,
    Observation,
    decide,
)
from backend.services.charger_health_store import Decision
from backend.services.firmware_store import Dispatch


class FakeConnection:
    """A connected charger: records commands, answers `answer` (or raises `error`)."""

    def __init__(self, identity: str, version: str = "1.6") -> None:
        self.identity = identity
        self.ocpp_version = version
        self.commands: list[gw.Command] = []
        self.answer = "Accepted"
        self.error: gw.GatewayError | None = None
        self.delay_s = 0.0
        self.closed: str | None = None

    async def execute(self, command: gw.Command, timeout_s: float) -> gw.CommandResult:
        self.commands.append(command)
        if self.delay_s:
            try:
                async with asyncio.timeout(timeout_s):
                    await asyncio.sleep(self.delay_s)
            except TimeoutError:
                raise gw.ChargerTimeout(self.identity, "no answer") from None
        if self.error is not None:
            raise self.error
        return gw.CommandResult(self.answer, {"echo": type(command).__name__})

    async def close(self, reason: str) -> None:
        self.closed = reason


@dataclass
class FakeHealthStore:
    """The ladder over dicts: (identity → Ladder) and a list of recorded actions."""

    policy: HealthPolicy
    ladders: dict[str, Ladder] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[tuple[str, str]] = field(default_factory=list)
    last_seen: dict[str, datetime] = field(default_factory=dict)
    offline: set[str] = field(default_factory=set)
    sweeps: list[tuple[datetime, float]] = field(default_factory=list)

    async def evaluate(self, identity: str, obs: Observation, now: datetime) -> Decision:
        ladder = self.ladders.get(identity, Ladder())
        since = now - self.policy.window
        resets = sum(
            1
            for a in self.actions
            if a["identity"] == identity and a["action"] in RESETS and a["at"] > since
        )
        out = decide(ladder, obs, now, resets, self.policy)
        self.ladders[identity] = out.ladder
        action_id = None
        for note in out.notes:
            self.actions.append(
                {
                    "identity": identity,
                    "action": note.action,
                    "reason": note.reason,
                    "result": note.result,
                    "at": now,
                }
            )
            if note.action == out.reset:
                action_id = len(self.actions) - 1
        self.alerts += [(identity, a) for a in out.alerts]
        return Decision(out.reset, action_id, out.ladder.state)

    async def reset_answered(self, action_id: int, result: str) -> None:
        self.actions[action_id]["result"] = result

    async def sweep(self, connected: list[str], now: datetime, interval_s: float) -> None:
        self.sweeps.append((now, interval_s))
        for identity, seen in self.last_seen.items():
            silent = (now - seen).total_seconds() > 3 * interval_s
            if silent and identity not in self.offline:
                self.offline.add(identity)
                self.actions.append({"identity": identity, "action": "offline", "at": now})
            elif not silent and identity in self.offline and identity in connected:
                self.offline.discard(identity)
                self.actions.append({"identity": identity, "action": "online", "at": now})

    def names(self, identity: str) -> list[str]:
        return [a["action"] for a in self.actions if a["identity"] == identity]


@dataclass
class FakeJob:
    identity: str
    target: str
    location: str
    retrieve_at: datetime
    job: fj.Job


@dataclass
class FakeFirmwareStore:
    rules: fj.FirmwareRules
    jobs: dict[int, FakeJob] = field(default_factory=dict)

    def add(
        self, job_id: int, identity: str, target: str, retrieve_at: datetime, max_attempts: int = 2
    ) -> None:
        self.jobs[job_id] = FakeJob(
            identity,
            target,
            f"https://fw.example.com/fw-{target}.bin",
            retrieve_at,
            fj.Job(max_attempts=max_attempts),
        )

    def job(self, job_id: int) -> fj.Job:
        return self.jobs[job_id].job

    async def claim_due(self, identities: list[str], now: datetime) -> list[Dispatch]:
        busy = {j.identity for j in self.jobs.values() if j.job.in_progress}
        out = []
        for job_id, j in sorted(self.jobs.items()):
            if (
                j.identity in identities
                and j.identity not in busy
                and j.job.due(now)
                and j.retrieve_at <= now
            ):
                j.job = fj.sent(j.job, now)
                busy.add(j.identity)
                out.append(
                    Dispatch(
                        job_id, j.identity, j.location, max(j.retrieve_at, now), j.job.attempts
                    )
                )
        return out

    async def send_answered(self, job_id: int, refused: str | None, now: datetime) -> None:
        j = self.jobs[job_id]
        if refused is not None and j.job.status == fj.SENT:
            j.job = fj.attempt_failed(j.job, refused, now, self.rules)

    async def firmware_status(
        self, identity: str, status: str, request_id: int | None, now: datetime
    ) -> int | None:
        for job_id, j in self.jobs.items():
            mine = request_id == job_id if request_id is not None else j.job.in_progress
            if j.identity == identity and mine:
                j.job = fj.progressed(j.job, status, now, self.rules)
                return job_id
        return None

    async def charger_booted(self, identity: str, version: str, now: datetime) -> None:
        for j in self.jobs.values():
            if j.identity == identity and not j.job.installed_version:
                j.job = fj.booted(j.job, version, j.target, now, self.rules)

    async def fail_stalled(self, now: datetime) -> int:
        n = 0
        for j in self.jobs.values():
            new = fj.stalled(j.job, now, self.rules)
            n += new != j.job
            j.job = new
        return n
