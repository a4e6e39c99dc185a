"""The simulator's offline queue of transaction messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ocpp_bridge.simulator.queue import OfflineQueue, QueuedMessage

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def msg(action: str, minute: int, droppable: bool = False) -> QueuedMessage:
    return QueuedMessage(
        action, T0 + timedelta(minutes=minute), lambda m: m.action, None, droppable
    )


def test_first_in_first_out() -> None:
    queue = OfflineQueue()
    items = [msg("StartTransaction", 0), msg("MeterValues", 1, True), msg("StopTransaction", 2)]
    for item in items:
        queue.put(item)
    delivered = []
    while (head := queue.peek()) is not None:
        delivered.append(head.build(head))
        queue.discard(head)
    assert delivered == ["StartTransaction", "MeterValues", "StopTransaction"]
    assert len(queue) == 0


def test_when_full_the_oldest_meter_value_goes_never_a_start_or_stop() -> None:
    queue = OfflineQueue(capacity=3)
    start, m1, m2 = (
        msg("StartTransaction", 0),
        msg("MeterValues", 1, True),
        msg("MeterValues", 2, True),
    )
    stop = msg("StopTransaction", 3)
    for item in (start, m1, m2, stop):
        queue.put(item)
    assert list(queue) == [start, m2, stop]
    assert queue.dropped == 1


def test_the_head_is_never_dropped_and_billing_messages_may_exceed_capacity() -> None:
    queue = OfflineQueue(capacity=2)
    head = msg("MeterValues", 0, True)  # possibly in flight
    queue.put(head)
    queue.put(msg("StartTransaction", 1))
    queue.put(msg("StopTransaction", 2))
    assert [m.action for m in queue] == ["MeterValues", "StartTransaction", "StopTransaction"]
    assert queue.dropped == 0


def test_discard_tolerates_a_message_already_dropped() -> None:
    queue = OfflineQueue()
    item = msg("MeterValues", 0, True)
    queue.discard(item)
    queue.put(item)
    queue.discard(item)
    queue.discard(item)
    assert len(queue) == 0


def test_original_timestamps_are_kept() -> None:
    queue = OfflineQueue()
    for minute in (0, 5, 10):
        queue.put(msg("MeterValues", minute, True))
    assert [m.at.minute for m in queue] == [0, 5, 10]


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        OfflineQueue(capacity=0)
