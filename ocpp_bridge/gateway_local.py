"""The in-process charger gateway (embedded default: API and bridge in one process).

The API runs in Flask's threads, the bridge on its own asyncio loop. `send` hands the
command to the loop with `run_coroutine_threadsafe` and blocks the request thread until
the charger answers. The embedded wiring gives this object to the backend's container as
its `ChargerGateway`; the backend never imports it (architecture.md, layers).
"""

from __future__ import annotations

import asyncio
import concurrent.futures

from backend.services.charger_gateway import (
    ChargerGateway,
    ChargerOffline,
    ChargerTimeout,
    Command,
    CommandResult,
)
from ocpp_bridge.registry import ConnectionRegistry

# The bridge's own timeout answers first; this only covers a loop too busy to answer.
GRACE_S = 2.0


class LocalChargerGateway(ChargerGateway):
    def __init__(self, registry: ConnectionRegistry, loop: asyncio.AbstractEventLoop) -> None:
        self._registry = registry
        self._loop = loop

    def send(self, identity: str, command: Command, *, timeout_s: float = 30.0) -> CommandResult:
        if self._on_loop_thread():
            # Blocking the loop on itself would deadlock: the charger's answer could
            # never be read. Bridge code awaits `registry.execute` instead.
            raise RuntimeError("LocalChargerGateway.send called on the bridge's own loop")
        if self._loop.is_closed() or not self._loop.is_running():
            raise ChargerOffline(identity, "The charger connection service is not running.")
        future = asyncio.run_coroutine_threadsafe(
            self._registry.execute(identity, command, timeout_s), self._loop
        )
        try:
            return future.result(timeout_s + GRACE_S)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise ChargerTimeout(
                identity, f"Charger {identity} did not answer within {timeout_s:g} s."
            ) from None
        except concurrent.futures.CancelledError:
            raise ChargerOffline(identity, "The charger connection service stopped.") from None

    def is_connected(self, identity: str) -> bool:
        # A dict lookup: atomic under the GIL, safe from another thread.
        return self._registry.get(identity) is not None

    def _on_loop_thread(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False
