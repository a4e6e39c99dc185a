"""Transaction messages kept while the charger cannot reach the central system.

OCPP wants transaction-related messages (StartTransaction, MeterValues, StopTransaction;
TransactionEvent in 2.0.1) delivered in order and with the timestamps of when things
happened, even across a lost connection or a reboot. Everything transaction-related goes
through this queue, online or not, so order holds on both paths. When full, the oldest
droppable message (a periodic meter value) goes first; a start or a stop is never dropped,
because billing depends on it.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(eq=False)
class QueuedMessage:
    action: str
    at: datetime  # when it happened (its timestamp), not when it is sent
    # The payload, built at send time: a 1.6 message needs the transaction id the central
    # system gave, which a message queued offline does not know yet. None: nothing to send.
    build: Callable[[QueuedMessage], Any]
    on_result: Callable[[Any], None] | None = None
    droppable: bool = False
    queued_offline: bool = False
    meta: dict[str, Any] = field(default_factory=dict)


class OfflineQueue:
    def __init__(self, capacity: int = 1000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.dropped = 0
        self._items: deque[QueuedMessage] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[QueuedMessage]:
        return iter(list(self._items))

    def put(self, message: QueuedMessage) -> None:
        if len(self._items) >= self.capacity:
            self._drop_oldest_droppable()
        self._items.append(message)

    def peek(self) -> QueuedMessage | None:
        return self._items[0] if self._items else None

    def discard(self, message: QueuedMessage) -> None:
        """Remove a message once delivered (it may already have been dropped)."""
        with contextlib.suppress(ValueError):
            self._items.remove(message)

    def clear(self) -> None:
        self._items.clear()

    def _drop_oldest_droppable(self) -> None:
        # The head may be in flight right now; never drop it from under the sender.
        for index, item in enumerate(self._items):
            if index > 0 and item.droppable:
                del self._items[index]
                self.dropped += 1
                return
