"""The failure window (domain.md §5, code guessing) with a fake clock and a fake throttle."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from backend.config import Settings
from backend.errors import TooManyAttempts
from backend.services.memberships import Caller, check_not_locked, record_failure
from backend.services.throttle import Throttle, seconds_until_allowed
from tests.conftest import FakeClock

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC).timestamp()
WINDOW = 15 * 60


class InMemoryThrottle(Throttle):
    """A fake of our own port: failures kept in a dict, the same window rule."""

    def __init__(self) -> None:
        self.failures: dict[str, list[float]] = defaultdict(list)

    def retry_after(self, key: str, limit: int, window: timedelta, now: datetime) -> int:
        return seconds_until_allowed(
            self.failures[key], limit, window.total_seconds(), now.timestamp()
        )

    def record_failure(self, key: str, window: timedelta, now: datetime) -> None:
        self.failures[key].append(now.timestamp())


# --- the window maths ------------------------------------------------------------------


def test_below_the_limit_is_allowed():
    assert seconds_until_allowed([], 5, WINDOW, T0) == 0
    assert seconds_until_allowed([T0 - 60] * 4, 5, WINDOW, T0) == 0


def test_at_the_limit_waits_until_the_oldest_counted_failure_leaves():
    failures = [T0 - 600, T0 - 300, T0 - 200, T0 - 100, T0]
    # The failure of 10 minutes ago leaves the 15-minute window in 5 minutes.
    assert seconds_until_allowed(failures, 5, WINDOW, T0) == 300


def test_only_the_limit_th_most_recent_failure_matters():
    # Seven failures: once the 5th most recent (T0-300) leaves, only 4 remain.
    failures = [T0 - 800, T0 - 700, T0 - 300, T0 - 200, T0 - 100, T0 - 50, T0]
    assert seconds_until_allowed(failures, 5, WINDOW, T0) == WINDOW - 300


def test_failures_older_than_the_window_do_not_count():
    failures = [T0 - WINDOW, T0 - WINDOW - 1, T0 - 10, T0 - 5]
    assert seconds_until_allowed(failures, 3, WINDOW, T0) == 0
    # A failure exactly one window old has just left it.
    assert seconds_until_allowed([T0 - WINDOW] * 9, 1, WINDOW, T0) == 0


def test_wait_is_rounded_up_and_never_zero_while_locked():
    assert seconds_until_allowed([T0 - WINDOW + 0.2], 1, WINDOW, T0) == 1
    assert seconds_until_allowed([T0 - 0.5], 1, WINDOW, T0) == WINDOW


def test_order_of_failures_does_not_matter():
    a = [T0 - 10, T0 - 500, T0 - 20, T0 - 400, T0 - 30]
    assert seconds_until_allowed(a, 5, WINDOW, T0) == seconds_until_allowed(
        sorted(a), 5, WINDOW, T0
    )


def test_limit_below_one_is_a_programming_error():
    with pytest.raises(ValueError):
        seconds_until_allowed([], 0, WINDOW, T0)


# --- the redemption policy on top of it --------------------------------------------------


@pytest.fixture
def policy():
    settings = Settings(database_url="sqlite://", secret_key="k" * 40)
    clock = FakeClock(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    return settings, clock, InMemoryThrottle()


def fail(policy, caller, times=1):
    settings, clock, throttle = policy
    for _ in range(times):
        check_not_locked(throttle, settings, caller, clock())
        record_failure(throttle, settings, caller, clock())
        clock.advance(seconds=10)


def test_five_failures_are_allowed_and_the_sixth_attempt_is_refused(policy):
    settings, clock, throttle = policy
    caller = Caller(1, "198.51.100.1")
    fail(policy, caller, settings.code_failures_allowed)
    with pytest.raises(TooManyAttempts) as err:
        check_not_locked(throttle, settings, caller, clock())
    # First failure at 12:00:00, now 12:00:50: the window frees up at 12:15:00.
    assert err.value.retry_after_seconds == 15 * 60 - 50
    assert err.value.headers["Retry-After"] == str(15 * 60 - 50)
    assert "try again in 15 minutes" in err.value.message


def test_lock_lifts_once_the_window_has_passed(policy):
    settings, clock, throttle = policy
    caller = Caller(1, "198.51.100.1")
    fail(policy, caller, 5)
    clock.advance(minutes=14)
    with pytest.raises(TooManyAttempts, match="1 minute\\."):
        check_not_locked(throttle, settings, caller, clock())
    clock.advance(minutes=1)
    check_not_locked(throttle, settings, caller, clock())  # allowed again


def test_one_address_is_locked_across_accounts(policy):
    settings, clock, throttle = policy
    fail(policy, Caller(1, "203.0.113.7"), 3)
    fail(policy, Caller(2, "203.0.113.7"), 2)
    with pytest.raises(TooManyAttempts):
        check_not_locked(throttle, settings, Caller(3, "203.0.113.7"), clock())
    # The same accounts from another network are not locked: each has < 5 failures.
    check_not_locked(throttle, settings, Caller(1, "192.0.2.1"), clock())


def test_one_account_is_locked_across_addresses(policy):
    settings, clock, throttle = policy
    for n in range(5):
        fail(policy, Caller(1, f"192.0.2.{n}"))
    with pytest.raises(TooManyAttempts):
        check_not_locked(throttle, settings, Caller(1, "192.0.2.200"), clock())
    check_not_locked(throttle, settings, Caller(2, "192.0.2.200"), clock())
