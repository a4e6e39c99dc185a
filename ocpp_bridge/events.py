"""What the protocol layer tells the rest of the bridge, version-neutral.

The OCPP handlers (v16 / v201) only translate; health monitoring, firmware campaigns and
command routing listen here. A listener that fails is logged and never breaks the
charger's connection or the acknowledgement of its message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatusChanged:
    identity: str
    connector_id: int  # 0 = the charger itself
    status: str  # normalised to 1.6 words: Available, Charging, SuspendedEV, Faulted, …
    error_code: str  # NoError, GroundFailure, … ("" when the version has none)
    at: datetime


@dataclass(frozen=True)
class FirmwareStatusChanged:
    identity: str
    status: str  # Downloading, Downloaded, Installing, Installed, DownloadFailed, …
    request_id: int | None
    at: datetime


class BridgeListener(Protocol):
    async def charger_connected(self, identity: str, ocpp_version: str) -> None: ...

    async def charger_disconnected(self, identity: str) -> None: ...

    async def charger_booted(self, identity: str, firmware_version: str) -> None: ...

    async def status_changed(self, event: StatusChanged) -> None: ...

    async def firmware_status_changed(self, event: FirmwareStatusChanged) -> None: ...


class Listeners:
    """Fan an event out to every listener; one listener's failure stays its own."""

    def __init__(self, listeners: list[BridgeListener] | None = None) -> None:
        self._listeners = list(listeners or [])

    def add(self, listener: BridgeListener) -> None:
        self._listeners.append(listener)

    async def emit(self, method: str, *args: object) -> None:
        for listener in self._listeners:
            try:
                await getattr(listener, method)(*args)
            except Exception:
                log.exception("bridge listener %s.%s failed", type(listener).__name__, method)
