"""The bridge's failed-login throttle: a sliding window per key, bounded memory."""

from __future__ import annotations

from ocpp_bridge.auth import FailureThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_slides_and_tells_when_to_come_back() -> None:
    clock = Clock()
    throttle = FailureThrottle(3, 60.0, clock=clock)
    for _ in range(2):
        throttle.failed("CP-1")
        clock.now += 10
    assert throttle.retry_after("CP-1") == 0
    throttle.failed("CP-1")  # third failure at t=1020; the first was at t=1000
    assert throttle.retry_after("CP-1") == 41
    assert throttle.retry_after("CP-2") == 0
    clock.now = 1060.5  # the first failure has left the window
    assert throttle.retry_after("CP-1") == 0


def test_memory_is_bounded_by_evicting_the_oldest_key() -> None:
    throttle = FailureThrottle(1, 60.0, max_keys=2, clock=Clock())
    for key in ("a", "b", "c"):
        throttle.failed(key)
    assert throttle.retry_after("a") == 0
    assert throttle.retry_after("b") > 0 and throttle.retry_after("c") > 0
