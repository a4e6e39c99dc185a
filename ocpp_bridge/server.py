"""The websocket endpoint chargers connect to: ws(s)://host:port/ocpp/<identity> (or
/<identity>), OCPP-J 1.6 or 2.0.1.

At the handshake, before any websocket exists:
- the identity must name a charge point (HTTP 404 otherwise);
- HTTP Basic auth (security profile 1; over TLS, profile 2) with the identity as
  username and the charger's password (HTTP 401 otherwise);
- the subprotocol is negotiated by `select_subprotocol`: ocpp2.0.1 preferred over
  ocpp1.6; none or an unsupported one is refused with HTTP 400 naming what we speak.
Then the connection is registered (the newest connection of a charger wins and the
older one is closed) and served until it closes.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence
from http import HTTPStatus
from urllib.parse import unquote

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import InvalidHeader, NegotiationError
from websockets.headers import parse_authorization_basic
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from backend.services.bridge_records import ChargerRef
from backend.services.charge_points import IDENTITY
from backend.services.charger_state import ChargerFacts
from ocpp_bridge.auth import ChargerAuthenticator
from ocpp_bridge.core import BridgeCore
from ocpp_bridge.protocol import BridgeConnection
from ocpp_bridge.registry import ConnectionRegistry
from ocpp_bridge.v16 import V16Connection
from ocpp_bridge.v201 import V201Connection

log = logging.getLogger(__name__)

# In order of preference: the newer protocol when a charger offers both.
SUBPROTOCOLS: dict[str, tuple[str, type[BridgeConnection]]] = {
    "ocpp2.0.1": ("2.0.1", V201Connection),
    "ocpp1.6": ("1.6", V16Connection),
}
REALM = 'Basic realm="Wattpass OCPP", charset="UTF-8"'


def identity_from_path(path: str) -> str | None:
    """The charger identity in /ocpp/<identity> or /<identity>; None if malformed."""
    parts = [unquote(p) for p in path.split("?", 1)[0].removeprefix("/").split("/")]
    if len(parts) == 2 and parts[0] == "ocpp":
        parts = parts[1:]
    if len(parts) != 1 or not IDENTITY.match(parts[0]) or set(parts[0]) == {"."}:
        return None
    return parts[0]


def select_subprotocol(connection: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol:
    for subprotocol in SUBPROTOCOLS:
        if subprotocol in offered:
            return Subprotocol(subprotocol)
    # websockets answers HTTP 400 with this text in the body.
    raise NegotiationError(
        f"no supported OCPP subprotocol offered ({', '.join(offered) or 'none'}); "
        f"this central system speaks {', '.join(SUBPROTOCOLS)}"
    )


class CentralSystem:
    def __init__(
        self,
        core: BridgeCore,
        registry: ConnectionRegistry,
        authenticator: ChargerAuthenticator,
    ) -> None:
        self.core = core
        self.registry = registry
        self.authenticator = authenticator
        self._admitted: weakref.WeakKeyDictionary[ServerConnection, ChargerFacts] = (
            weakref.WeakKeyDictionary()
        )
        # Online/offline writes of one charger in order, so a late "offline" of a
        # replaced socket can never land after the new socket's "online".
        self._status_locks: dict[str, asyncio.Lock] = {}
        self._closing: set[asyncio.Task[None]] = set()

    async def process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        identity = identity_from_path(request.path)
        address = _client_address(connection)
        if self.authenticator.per_address.retry_after(address):
            return _too_many(connection, self.authenticator.per_address.retry_after(address))
        facts = await self.authenticator.charger(identity) if identity else None
        if facts is None:
            # Probing for identities counts against the address like a wrong password.
            self.authenticator.per_address.failed(address)
            return connection.respond(HTTPStatus.NOT_FOUND, "Unknown charger identity.\n")
        try:
            username, password = parse_authorization_basic(request.headers["Authorization"])
        except (KeyError, InvalidHeader):
            return _unauthorized(connection, "HTTP Basic authentication required.\n")
        auth = self.authenticator
        if username == facts.identity and auth.known_good(facts, password):
            self._admitted[connection] = facts
            return None
        wait = auth.retry_after(facts.identity, address)
        if wait:
            log.warning("charger %s: too many failed logins, refused for %d s", identity, wait)
            return _too_many(connection, wait)
        if username != facts.identity or not await auth.check(facts, password):
            auth.failed(facts.identity, address)
            log.warning("charger %s: wrong credentials", identity)
            return _unauthorized(connection, "Wrong identity or password.\n")
        self._admitted[connection] = facts
        return None

    async def handler(self, websocket: ServerConnection) -> None:
        facts = self._admitted.pop(websocket)
        version, connection_class = SUBPROTOCOLS[websocket.subprotocol or ""]
        ref = ChargerRef(facts.charge_point_id, facts.site_id, facts.identity, version)
        connection = connection_class(ref, facts.registration, websocket, self.core)
        old = self.registry.register(ref.identity, connection)
        if old is not None:
            log.info("charger %s reconnected; closing its older connection", ref.identity)
            self._close_later(old)
        lock = self._status_locks.setdefault(ref.identity, asyncio.Lock())
        try:
            async with lock:
                await self.core.connected(connection)
            await connection.run()
        finally:
            if self.registry.unregister(ref.identity, connection):
                async with lock:
                    if ref.identity not in self.registry:
                        await self.core.disconnected(connection)

    def _close_later(self, old: object) -> None:
        # Not awaited here: a half-open socket takes the close timeout to give up, and
        # the new connection must not wait for that.
        assert isinstance(old, BridgeConnection)
        task = asyncio.create_task(old.close("replaced by a newer connection"))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


def _too_many(connection: ServerConnection, wait: int) -> Response:
    response = connection.respond(
        HTTPStatus.TOO_MANY_REQUESTS, f"Too many failed logins; try again in {wait} seconds.\n"
    )
    response.headers["Retry-After"] = str(wait)
    return response


def _client_address(connection: ServerConnection) -> str:
    peer = connection.remote_address
    return str(peer[0]) if peer else ""


def _unauthorized(connection: ServerConnection, text: str) -> Response:
    response = connection.respond(HTTPStatus.UNAUTHORIZED, text)
    response.headers["WWW-Authenticate"] = REALM
    return response
