"""Commands an operator's staff send to one of their chargers: reset, unlock a connector,
make a connector (or the whole charger) available or not.

The command goes through the charger-gateway port; the charger's answer comes back as it
is (Accepted, Rejected, Unlocked, …). Delivery problems are errors a person can act on:
offline (409), no answer in time (504), the charger answered with an error (502), no
charger connection configured or reachable (503). Every command, answered or not, is
part of the charger's health history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from backend.errors import DomainError, InvalidInput
from backend.services import charge_points
from backend.services import charger_gateway as gw
from backend.services.charger_health_store import record_action

RESET, UNLOCK, AVAILABILITY = "reset", "unlock", "availability"
TYPES = (RESET, UNLOCK, AVAILABILITY)
DEFAULT_TIMEOUT_S = 30.0


class ChargerOfflineError(DomainError):
    status = 409
    code = "charger_offline"


class ChargerTimeoutError(DomainError):
    status = 504
    code = "charger_timeout"


class ChargerAnsweredError(DomainError):
    status = 502
    code = "charger_error"


class GatewayUnavailable(DomainError):
    status = 503
    code = "charger_connection_unavailable"

    def __init__(self, message: str = "The charger connection is not available.") -> None:
        super().__init__(message, headers={"Retry-After": "10"})


@dataclass(frozen=True)
class CommandIn:
    type: str
    hard: bool = False  # reset
    connector_id: int | None = None  # unlock, availability (0 = the whole charger)
    operative: bool | None = None  # availability


@dataclass(frozen=True)
class CommandOut:
    type: str
    status: str
    accepted: bool
    data: dict[str, object]


def _command(cmd: CommandIn, connectors: set[int]) -> tuple[gw.Command, str, str]:
    """The gateway command, its history name and a few words on what was asked."""
    if cmd.type == RESET:
        kind = "hard" if cmd.hard else "soft"
        return gw.Reset(hard=cmd.hard), f"{kind}_reset", f"{kind.capitalize()} reset"
    if cmd.connector_id is None:
        raise InvalidInput("Say which connector.", errors={"connector_id": ["Required."]})
    allowed = connectors | ({0} if cmd.type == AVAILABILITY else set())
    if cmd.connector_id not in allowed:
        hint = "0 (the whole charger) or " if cmd.type == AVAILABILITY else ""
        raise InvalidInput(
            "This charge point has no such connector.",
            errors={"connector_id": [f"One of {hint}{sorted(connectors)}."]},
        )
    if cmd.type == UNLOCK:
        return gw.UnlockConnector(cmd.connector_id), UNLOCK, f"Unlock connector {cmd.connector_id}"
    if cmd.type == AVAILABILITY:
        if cmd.operative is None:
            raise InvalidInput("Say operative true or false.", errors={"operative": ["Required."]})
        word = "operative" if cmd.operative else "inoperative"
        where = f"connector {cmd.connector_id}" if cmd.connector_id else "the whole charger"
        return (
            gw.ChangeAvailability(cmd.connector_id, cmd.operative),
            AVAILABILITY,
            f"Make {where} {word}",
        )
    raise InvalidInput("Unknown command.", errors={"type": [f"One of {', '.join(TYPES)}."]})


def send_command(
    s: Session,
    gateway: gw.ChargerGateway | None,
    operator_id: int,
    charge_point_id: int,
    cmd: CommandIn,
    user_id: int | None,
    clock: Callable[[], datetime],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> CommandOut:
    """Send the command to one of the operator's chargers and return its answer."""
    cp = charge_points.get_charge_point(s, operator_id, charge_point_id)
    command, action, reason = _command(cmd, {c.connector_id for c in cp.connectors})
    identity, cp_id = cp.ocpp_identity, cp.id
    s.commit()  # no transaction stays open while the charger takes its time
    if gateway is None:
        raise GatewayUnavailable("The charger connection is not available (none is configured).")
    now = clock()
    try:
        answer = gateway.send(identity, command, timeout_s=timeout_s)
    except gw.GatewayError as exc:
        result = exc.code
        record_action(s, cp_id, action, reason, result, clock(), user_id=user_id)
        raise _problem(exc) from exc
    record_action(s, cp_id, action, reason, answer.status, now, user_id=user_id)
    return CommandOut(cmd.type, answer.status, answer.accepted, dict(answer.data))


def _problem(exc: gw.GatewayError) -> DomainError:
    if isinstance(exc, gw.ChargerOffline):
        return ChargerOfflineError(
            "The charger is not connected right now, so it cannot take commands. "
            "Check its power and network."
        )
    if isinstance(exc, gw.ChargerTimeout):
        return ChargerTimeoutError(
            "The charger did not answer in time. It may still carry the command out; "
            "check its status before trying again."
        )
    if isinstance(exc, gw.CommandRejected):
        return ChargerAnsweredError(f"The charger could not take the command: {exc.message}")
    return GatewayUnavailable(exc.message)
