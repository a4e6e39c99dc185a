"""Charger health: the automatic-restart ladder, its limits, and offline detection.

domain.md §3: chargers are monitored every 10 seconds; on a fault the system
automatically tries to restart the charger. The rules:

- A Faulted connector (or the charger itself, connector 0) starts an episode: the
  operator's staff are told (ChargerFaulted) and the charger gets a soft reset.
- Still Faulted `settle` after it: a hard reset. Still Faulted `settle` after that: the
  ladder failed; the next one starts after a back-off that doubles with every failed
  ladder (`backoff_base`, 2×, 4×, … up to `backoff_max`).
- At most `max_resets_per_day` automatic resets per charger in any 24 hours. Once they
  are used up we stop and mark the charger "needs attention" (ChargerRestartFailed):
  a broken charger is not reset forever.
- No connector Faulted any more: recovered (ChargerRestarted when we had reset it); the
  back-off starts from the beginning again. The 24-hour limit still counts the resets.
- A charger not heard from for three heartbeat intervals is offline.

`decide` is the ladder as a pure function; `charger_health_store.evaluate` runs it
against the database, where every step becomes a `HealthAction` row.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

OK, FAULTED, NEEDS_ATTENTION = "ok", "faulted", "needs_attention"
FAULT, SOFT_RESET, HARD_RESET = "fault", "soft_reset", "hard_reset"
RESTART_FAILED, RECOVERED = "restart_failed", "recovered"
OFFLINE, ONLINE = "offline", "online"
RESETS = (SOFT_RESET, HARD_RESET)
# Alerts for the operator's staff (the OperatorAlerts port).
ALERT_FAULTED, ALERT_RESTARTED, ALERT_RESTART_FAILED = "faulted", "restarted", "restart_failed"
MISSED_HEARTBEATS = 3


@dataclass(frozen=True)
class HealthPolicy:
    settle: timedelta = timedelta(minutes=2)  # a reset's time to reboot and report
    max_resets_per_day: int = 6  # soft and hard resets together: three ladders
    backoff_base: timedelta = timedelta(minutes=10)
    backoff_max: timedelta = timedelta(hours=6)
    window: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        if self.max_resets_per_day < 1 or self.settle <= timedelta(0):
            raise ValueError("max_resets_per_day ≥ 1 and a positive settle time")

    def backoff(self, failed_ladders: int) -> timedelta:
        return min(self.backoff_max, self.backoff_base * 2 ** max(0, failed_ladders - 1))


@dataclass(frozen=True)
class Ladder:
    """Where a charger's restart ladder stands (a `ChargerHealth` row)."""

    state: str = OK
    step: str = ""
    step_at: datetime | None = None
    fault_since: datetime | None = None
    error_code: str = ""
    resets_in_episode: int = 0
    failed_ladders: int = 0
    next_attempt_at: datetime | None = None


@dataclass(frozen=True)
class Observation:
    """What the bridge last heard from the charger's connectors: faulted or not, or
    None while it has not reported since it (re)connected."""

    faulted: bool | None
    error_code: str = ""
    where: str = ""  # "connector 2", "the charger"


@dataclass(frozen=True)
class Note:
    action: str
    reason: str
    result: str = ""


@dataclass(frozen=True)
class Outcome:
    ladder: Ladder
    notes: tuple[Note, ...] = ()
    alerts: tuple[str, ...] = ()
    reset: str | None = None  # SOFT_RESET / HARD_RESET: send it now


def decide(
    ladder: Ladder, obs: Observation, now: datetime, resets_today: int, policy: HealthPolicy
) -> Outcome:
    """The next step of the ladder, given what the charger reports now."""
    if obs.faulted is None:
        return Outcome(ladder)
    if not obs.faulted:
        if ladder.state == OK:
            return Outcome(ladder)
        after = f" after {ladder.resets_in_episode} automatic reset(s)"
        note = Note(RECOVERED, "No connector is Faulted any more" + after, "ok")
        restarted = ladder.state == FAULTED and ladder.resets_in_episode > 0
        return Outcome(Ladder(), (note,), (ALERT_RESTARTED,) if restarted else ())
    if ladder.state == NEEDS_ATTENTION:
        return Outcome(ladder)
    notes: list[Note] = []
    alerts: list[str] = []
    if ladder.state == OK:
        ladder = Ladder(state=FAULTED, fault_since=now, error_code=obs.error_code[:50])
        code = f" ({obs.error_code})" if obs.error_code else ""
        notes.append(Note(FAULT, f"{obs.where or 'The charger'} reported Faulted{code}"))
        alerts.append(ALERT_FAULTED)
    if ladder.step and ladder.step_at and now < ladder.step_at + policy.settle:
        return Outcome(ladder, tuple(notes), tuple(alerts))  # the reset is settling
    if ladder.step == HARD_RESET:
        failed = ladder.failed_ladders + 1
        delay = policy.backoff(failed)
        ladder = replace(
            ladder, step="", step_at=None, failed_ladders=failed, next_attempt_at=now + delay
        )
        notes.append(
            Note(
                RESTART_FAILED,
                f"Still Faulted after a soft and a hard reset; next attempt in "
                f"{int(delay.total_seconds())} s",
            )
        )
    if resets_today >= policy.max_resets_per_day:
        ladder = replace(ladder, state=NEEDS_ATTENTION, step="", step_at=None, next_attempt_at=None)
        notes.append(
            Note(
                NEEDS_ATTENTION,
                f"{resets_today} automatic resets within "
                f"{int(policy.window.total_seconds() // 3600)} h: the limit is reached, "
                "no more automatic resets until it recovers",
            )
        )
        return Outcome(ladder, tuple(notes), (*alerts, ALERT_RESTART_FAILED))
    if ladder.next_attempt_at and now < ladder.next_attempt_at:
        return Outcome(ladder, tuple(notes), tuple(alerts))  # backing off
    kind = HARD_RESET if ladder.step == SOFT_RESET else SOFT_RESET
    why = "Faulted" if kind == SOFT_RESET else "Still Faulted after the soft reset"
    ladder = replace(
        ladder,
        step=kind,
        step_at=now,
        resets_in_episode=ladder.resets_in_episode + 1,
        next_attempt_at=None,
    )
    notes.append(Note(kind, why, "sent"))
    return Outcome(ladder, tuple(notes), tuple(alerts), reset=kind)


# --- the operator's staff are told through a port ----------------------------------------


@dataclass(frozen=True)
class ChargerInfo:
    charge_point_id: int
    operator_id: int
    identity: str
    site_name: str


class OperatorAlerts(Protocol):
    def send(self, s: Session, charger: ChargerInfo, alert: str, error_code: str) -> None:
        """Tell the operator's staff; must never raise."""
        ...


class NoAlerts:
    def send(self, s: Session, charger: ChargerInfo, alert: str, error_code: str) -> None:
        return None
