"""What a simulated charger sent and was asked, kept for assertions and the CLI's log."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import is_dataclass
from datetime import datetime
from typing import Any

from ocpp.charge_point import remove_nones, serialize_as_dict, snake_to_camel_case

from ocpp_bridge.simulator.model import SimEvent


def to_wire(payload: Any) -> dict[str, Any]:
    """A payload dataclass as the camelCase JSON object that goes on the wire."""
    if is_dataclass(payload) and not isinstance(payload, type):
        return snake_to_camel_case(remove_nones(serialize_as_dict(payload)))  # type: ignore[no-any-return]
    return dict(payload) if isinstance(payload, dict) else {}


class Recorder:
    identity: str
    events: deque[SimEvent]
    listeners: list[Callable[[SimEvent], None]]

    def _init_recorder(self, limit: int) -> None:
        self.events = deque(maxlen=limit)
        self.listeners = []
        self._new_event = asyncio.Event()

    def _now(self) -> datetime:
        raise NotImplementedError

    # -- recording -------------------------------------------------------------------
    def record(
        self,
        direction: str,
        action: str,
        payload: dict[str, Any],
        response: Any,
        error: str | None = None,
    ) -> None:
        if response is not None and not isinstance(response, dict):
            response = to_wire(response) if is_dataclass(response) else {"value": response}
        event = SimEvent(direction, action, payload, response, self._now(), error)
        self.events.append(event)
        for listener in self.listeners:
            listener(event)
        self._new_event.set()
        self._new_event = asyncio.Event()

    def sent(self, action: str) -> list[dict[str, Any]]:
        """Payloads of the `action` calls the charger sent and got answered."""
        return [
            e.payload
            for e in self.events
            if e.direction == "out" and e.action == action and e.error is None
        ]

    def received(self, action: str) -> list[SimEvent]:
        """Commands of kind `action` the central system sent, with the answers given."""
        return [e for e in self.events if e.direction == "in" and e.action == action]

    async def wait_for(
        self,
        action: str,
        *,
        direction: str = "out",
        count: int = 1,
        where: Callable[[SimEvent], bool] | None = None,
        timeout: float = 10,
    ) -> SimEvent:
        """Wait (real seconds) until the `count`-th matching event was recorded."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            hits = [
                e
                for e in self.events
                if e.direction == direction and e.action == action and (where is None or where(e))
            ]
            if len(hits) >= count:
                return hits[count - 1]
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{self.identity}: no {count}× {direction} {action}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_event.wait(), remaining)
