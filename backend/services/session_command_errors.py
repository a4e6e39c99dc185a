"""The charger problems a driver sees when a start or a stop cannot be sent or is refused,
and how a gateway error becomes one of them.

Split out of session_commands (which re-exports the errors) to keep each module small.
"""

from __future__ import annotations

from backend.errors import DomainError
from backend.services import charger_gateway as gw


class ConnectorBusy(DomainError):
    status = 409
    code = "connector_busy"


class SessionAlreadyActive(DomainError):
    status = 409
    code = "session_already_active"


class ChargerOffline(DomainError):
    status = 409
    code = "charger_offline"


class ChargerRejected(DomainError):
    status = 409
    code = "charger_rejected"


class ChargerTimeout(DomainError):
    status = 504
    code = "charger_timeout"


class ChargerUnavailable(DomainError):
    status = 503
    code = "charger_connection_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"Retry-After": "10"})


def _charger_problem(exc: gw.GatewayError, what: str) -> DomainError:
    if isinstance(exc, gw.ChargerOffline):
        return ChargerOffline(
            f"The charger is not connected right now, so it cannot {what}. Try again later "
            "or choose another charge point."
        )
    if isinstance(exc, gw.ChargerTimeout):
        return ChargerTimeout(
            f"The charger did not answer in time, so it did not {what}. Try again."
        )
    if isinstance(exc, gw.CommandRejected):
        return ChargerRejected(f"The charger could not {what}: {exc.message}")
    return ChargerUnavailable(exc.message)
