"""The automatic-restart ladder as a pure function (charger_health.decide): soft reset,
hard reset after the settle time, back-off between ladders, the daily limit, recovery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.services.charger_health import (
    ALERT_FAULTED,
    ALERT_RESTART_FAILED,
    ALERT_RESTARTED,
    FAULT,
    FAULTED,
    HARD_RESET,
    NEEDS_ATTENTION,
    OK,
    RECOVERED,
    RESTART_FAILED,
    SOFT_RESET,
    HealthPolicy,
    Ladder,
    Observation,
    decide,
)

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POLICY = HealthPolicy(
    settle=timedelta(minutes=2),
    max_resets_per_day=6,
    backoff_base=timedelta(minutes=10),
    backoff_max=timedelta(hours=1),
)
FAULTY = Observation(True, "GroundFailure", "Connector 1")
FINE = Observation(False)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def actions(outcome) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.action for n in outcome.notes]


def test_a_fault_is_recorded_alerted_and_answered_with_a_soft_reset():
    out = decide(Ladder(), FAULTY, T0, 0, POLICY)
    assert actions(out) == [FAULT, SOFT_RESET]
    assert out.reset == SOFT_RESET
    assert out.alerts == (ALERT_FAULTED,)
    assert out.notes[0].reason == "Connector 1 reported Faulted (GroundFailure)"
    assert out.ladder.state == FAULTED
    assert (out.ladder.step, out.ladder.step_at, out.ladder.resets_in_episode) == (
        SOFT_RESET,
        T0,
        1,
    )


def test_still_faulted_waits_for_the_settle_time_then_hard_resets():
    after_soft = decide(Ladder(), FAULTY, T0, 0, POLICY).ladder
    waiting = decide(after_soft, FAULTY, at(1.9), 1, POLICY)
    assert waiting.reset is None and not waiting.notes and not waiting.alerts
    assert waiting.ladder == after_soft
    hard = decide(after_soft, FAULTY, at(2), 1, POLICY)
    assert hard.reset == HARD_RESET
    assert actions(hard) == [HARD_RESET]
    assert hard.notes[0].reason == "Still Faulted after the soft reset"
    assert hard.alerts == ()  # the operator already knows it faulted


def test_a_failed_ladder_backs_off_exponentially_then_starts_again_with_a_soft_reset():
    ladder = decide(Ladder(), FAULTY, T0, 0, POLICY).ladder
    ladder = decide(ladder, FAULTY, at(2), 1, POLICY).ladder  # hard reset at +2
    failed = decide(ladder, FAULTY, at(4), 2, POLICY)
    assert actions(failed) == [RESTART_FAILED]
    assert failed.reset is None
    assert failed.ladder.failed_ladders == 1
    assert failed.ladder.next_attempt_at == at(14)  # 10 minutes
    assert decide(failed.ladder, FAULTY, at(13), 2, POLICY).reset is None
    again = decide(failed.ladder, FAULTY, at(14), 2, POLICY)
    assert again.reset == SOFT_RESET
    ladder = decide(again.ladder, FAULTY, at(16), 3, POLICY).ladder  # hard at +16
    second = decide(ladder, FAULTY, at(18), 4, POLICY)
    assert second.ladder.failed_ladders == 2
    assert second.ladder.next_attempt_at == at(18 + 20)  # doubled


def test_backoff_is_capped():
    assert POLICY.backoff(1) == timedelta(minutes=10)
    assert POLICY.backoff(3) == timedelta(minutes=40)
    assert POLICY.backoff(10) == timedelta(hours=1)


def test_the_daily_limit_stops_the_ladder_and_marks_needs_attention():
    ladder = Ladder(state=FAULTED, fault_since=T0, step=SOFT_RESET, step_at=T0)
    out = decide(ladder, FAULTY, at(3), 6, POLICY)  # a hard reset would be the 7th
    assert out.reset is None
    assert actions(out) == [NEEDS_ATTENTION]
    assert out.alerts == (ALERT_RESTART_FAILED,)
    assert out.ladder.state == NEEDS_ATTENTION
    assert "limit is reached" in out.notes[0].reason
    # From then on: nothing, however long it stays faulted.
    later = decide(out.ladder, FAULTY, at(24 * 60), 6, POLICY)
    assert later.reset is None and not later.notes


def test_a_new_fault_when_the_limit_is_used_up_goes_straight_to_needs_attention():
    out = decide(Ladder(), FAULTY, T0, 6, POLICY)
    assert actions(out) == [FAULT, NEEDS_ATTENTION]
    assert out.alerts == (ALERT_FAULTED, ALERT_RESTART_FAILED)
    assert out.reset is None


def test_recovery_after_a_reset_alerts_restarted_and_resets_the_backoff():
    ladder = Ladder(
        state=FAULTED, step=HARD_RESET, step_at=T0, resets_in_episode=4, failed_ladders=1
    )
    out = decide(ladder, FINE, at(1), 4, POLICY)
    assert actions(out) == [RECOVERED]
    assert out.alerts == (ALERT_RESTARTED,)
    assert out.ladder == Ladder()
    assert out.ladder.failed_ladders == 0 and out.ladder.state == OK


def test_recovery_from_needs_attention_is_recorded_without_a_restarted_alert():
    out = decide(Ladder(state=NEEDS_ATTENTION, resets_in_episode=6), FINE, T0, 6, POLICY)
    assert actions(out) == [RECOVERED]
    assert out.alerts == ()
    assert out.ladder.state == OK


@pytest.mark.parametrize("obs", [FINE, Observation(None)])
def test_a_healthy_charger_or_one_not_yet_reported_changes_nothing(obs):
    out = decide(Ladder(), obs, T0, 0, POLICY)
    assert out == type(out)(Ladder())


def test_an_unknown_observation_never_moves_a_ladder():
    ladder = Ladder(state=FAULTED, step=SOFT_RESET, step_at=T0, resets_in_episode=1)
    assert decide(ladder, Observation(None), at(60), 1, POLICY).ladder == ladder


def test_policy_refuses_nonsense():
    with pytest.raises(ValueError):
        HealthPolicy(max_resets_per_day=0)


def test_a_failed_ladder_that_used_up_the_limit_needs_attention_at_once():
    ladder = Ladder(state=FAULTED, step=HARD_RESET, step_at=T0, resets_in_episode=6)
    out = decide(ladder, FAULTY, at(2), 6, POLICY)
    assert actions(out) == [RESTART_FAILED, NEEDS_ATTENTION]
    assert out.alerts == (ALERT_RESTART_FAILED,)
    assert out.ladder.next_attempt_at is None
