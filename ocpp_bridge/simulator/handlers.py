"""Shared plumbing of the v16 / v201 command handlers.

A handler answers at once. Work that sends messages of its own (a remote start's
StartTransaction, a reset's reconnect) is parked and started only once the answer is on
the wire: a call awaited inside a handler would block the receive loop and hang.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from ocpp.charge_point import snake_to_camel_case

if TYPE_CHECKING:
    from ocpp_bridge.simulator.simulator import ChargerSimulator

FollowUp = Callable[[], Coroutine[Any, Any, Any]]


class HandlerSupport:
    """Mixed in before ocpp's ChargePoint."""

    sim: ChargerSimulator

    def _attach(self, sim: ChargerSimulator) -> None:
        self.sim = sim
        self._follow_ups: list[FollowUp] = []

    def answer(
        self, action: str, request: dict[str, Any], response: Any, then: FollowUp | None = None
    ) -> Any:
        """Record the command and the answer; `then` runs after the answer was sent."""
        self.sim.record("in", action, snake_to_camel_case(request), response)
        if then is not None:
            self._follow_ups.append(then)
        return response

    async def route_message(self, raw_msg: str) -> None:
        await super().route_message(raw_msg)  # type: ignore[misc]
        # The answer (or the CallError) has been sent by now.
        while self._follow_ups:
            self.sim.spawn(self._follow_ups.pop(0)())
