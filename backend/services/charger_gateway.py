"""The charger-gateway port: how the backend asks a charger to do something.

The backend never imports `ocpp_bridge` internals (architecture.md). It builds one of the
version-neutral commands below and hands it to a `ChargerGateway`; the bridge node that
holds the charger's websocket turns it into the OCPP 1.6J or 2.0.1 call and returns the
charger's answer. Two adapters: in-process (embedded default, API and bridge in one
process) and Redis-routed (production, several bridge nodes).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class GatewayError(Exception):
    """A command could not be delivered or answered; `message` is for a person."""

    code = "charger_unavailable"

    def __init__(self, identity: str, message: str) -> None:
        super().__init__(message)
        self.identity = identity
        self.message = message


class ChargerOffline(GatewayError):
    code = "charger_offline"


class ChargerTimeout(GatewayError):
    code = "charger_timeout"


class CommandRejected(GatewayError):
    """The charger answered with a CALLERROR (not with a status such as Rejected)."""

    code = "charger_error"


@dataclass(frozen=True)
class RemoteStart:
    connector_id: int
    id_tag: str


@dataclass(frozen=True)
class RemoteStop:
    transaction_id: str  # 1.6: our integer id as text; 2.0.1: the charger's string id


@dataclass(frozen=True)
class Reset:
    hard: bool = False


@dataclass(frozen=True)
class UnlockConnector:
    connector_id: int


@dataclass(frozen=True)
class ChangeAvailability:
    connector_id: int  # 0 = the whole charger
    operative: bool


@dataclass(frozen=True)
class GetConfiguration:
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChangeConfiguration:
    key: str
    value: str


@dataclass(frozen=True)
class TriggerMessage:
    message: str  # "BootNotification", "Heartbeat", "StatusNotification", "MeterValues", …
    connector_id: int | None = None


@dataclass(frozen=True)
class UpdateFirmware:
    location: str
    retrieve_at: datetime
    retries: int = 3
    retry_interval_s: int = 60
    request_id: int = 0  # 2.0.1 requestId; the campaign job id


@dataclass(frozen=True)
class GetDiagnostics:
    location: str


Command = (
    RemoteStart
    | RemoteStop
    | Reset
    | UnlockConnector
    | ChangeAvailability
    | GetConfiguration
    | ChangeConfiguration
    | TriggerMessage
    | UpdateFirmware
    | GetDiagnostics
)


@dataclass(frozen=True)
class CommandResult:
    """The charger's answer: its status word (Accepted, Rejected, Unlocked, …) and payload."""

    status: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.status in {"Accepted", "Unlocked", "Scheduled"}


class ChargerGateway(abc.ABC):
    """Send a command to the charger with this OCPP identity and wait for its answer."""

    @abc.abstractmethod
    def send(self, identity: str, command: Command, *, timeout_s: float = 30.0) -> CommandResult:
        """Blocking; raises ChargerOffline, ChargerTimeout or CommandRejected."""

    @abc.abstractmethod
    def is_connected(self, identity: str) -> bool: ...
