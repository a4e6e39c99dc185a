"""Which charger is connected to this bridge node, and how to send it a command.

The charger-gateway adapters (in-process and Redis-routed), health monitoring and
firmware campaigns build on this; its API is a contract:

    registry = ConnectionRegistry()
    old = registry.register(identity, connection)   # newest wins; close `old` yourself
    registry.unregister(identity, connection)       # True only if it was still current
    registry.get(identity) -> ChargerConnection | None
    registry.identities() -> list[str]
    await registry.execute(identity, command, timeout_s=30.0) -> CommandResult
        raises ChargerOffline (not connected here), ChargerTimeout (no answer in time),
        CommandRejected (the charger answered with a CALLERROR)

All methods run on the bridge's event loop. From another thread (a Flask request), use
`asyncio.run_coroutine_threadsafe(registry.execute(...), bridge.loop)`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from backend.services.charger_gateway import ChargerOffline, Command, CommandResult


@runtime_checkable
class ChargerConnection(Protocol):
    """One charger's live websocket, whatever its OCPP version."""

    identity: str
    ocpp_version: str  # "1.6" | "2.0.1"

    async def execute(self, command: Command, timeout_s: float) -> CommandResult:
        """Send the command as this version's OCPP call; raises the gateway errors."""
        ...

    async def close(self, reason: str) -> None:
        """Close the websocket (e.g. when a newer connection of the same charger wins)."""
        ...


class ConnectionRegistry:
    def __init__(self) -> None:
        self._connections: dict[str, ChargerConnection] = {}

    def register(self, identity: str, connection: ChargerConnection) -> ChargerConnection | None:
        """Make ``connection`` the charger's current one; return the one it replaces.

        The newest connection wins: a charger that reconnects does so because it believes
        the old socket dead, even if our side has not noticed yet (half-open TCP).
        """
        old = self._connections.get(identity)
        self._connections[identity] = connection
        return old if old is not connection else None

    def unregister(self, identity: str, connection: ChargerConnection) -> bool:
        """Forget ``connection`` if it is still the current one (a replaced connection
        closing late must not unregister its successor)."""
        if self._connections.get(identity) is connection:
            del self._connections[identity]
            return True
        return False

    def get(self, identity: str) -> ChargerConnection | None:
        return self._connections.get(identity)

    def identities(self) -> list[str]:
        return list(self._connections)

    def __contains__(self, identity: object) -> bool:
        return identity in self._connections

    def __len__(self) -> int:
        return len(self._connections)

    async def execute(
        self, identity: str, command: Command, timeout_s: float = 30.0
    ) -> CommandResult:
        connection = self._connections.get(identity)
        if connection is None:
            raise ChargerOffline(identity, f"Charger {identity} is not connected.")
        return await connection.execute(command, timeout_s)
