"""Command routing across bridge nodes through Redis: this node's side.

`RedisRouting` is a BridgeListener and two tasks:

- on `charger_connected` it sets ``route:<identity> = <this node>`` (the newest
  connection wins, across nodes too: if another node held the charger, that node is told
  to close its now stale connection); on `charger_disconnected` it removes the route,
  but only while it still names this node and no newer connection of the charger is
  registered here;
- a heartbeat every `ttl_s / 3` keeps ``node:<this node>`` and this node's routes alive
  (a killed node's routes expire after `ttl_s`, and callers get ChargerOffline) and
  closes connections whose route another node has taken;
- a consumer reads ``node:<this node>:commands``, runs each command through the
  registry and pushes the answer to the caller's reply key.

The key names and the JSON codec are `backend.adapters.gateway_redis`'s, the backend side.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from typing import Any

import redis.asyncio as aioredis

from backend.adapters.gateway_redis import (
    DEFAULT_PREFIX,
    REPLY_TTL_S,
    Keys,
    decode_command,
    encode_error,
    encode_result,
)
from backend.services.charger_gateway import GatewayError
from ocpp_bridge.events import FirmwareStatusChanged, StatusChanged
from ocpp_bridge.registry import ConnectionRegistry

log = logging.getLogger(__name__)
MOVED = "Connected to another bridge node"

# Refresh each route still ours; re-create one that expired meanwhile (a Redis blip);
# report the ones another node has taken. KEYS: routes; ARGV: node id, ttl in ms.
_REFRESH = """
local lost = {}
for i, key in ipairs(KEYS) do
  local owner = redis.call('GET', key)
  if owner == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
  elseif not owner then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
  else
    table.insert(lost, i)
  end
end
return lost
"""
# Delete the route only if it still names this node.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def default_node_id() -> str:
    return os.environ.get("WATTPASS_OCPP_NODE_ID") or f"{socket.gethostname()}-{os.getpid()}"


class RedisRouting:
    def __init__(
        self,
        client: aioredis.Redis,
        registry: ConnectionRegistry,
        node_id: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        ttl_s: float = 30.0,
        poll_s: float = 1.0,
    ) -> None:
        self.redis = client
        self.registry = registry
        self.node_id = node_id
        self.keys = Keys(prefix)
        self.ttl_s = ttl_s
        self.poll_s = poll_s
        self._refresh = client.register_script(_REFRESH)
        self._release = client.register_script(_RELEASE)
        self._tasks: list[asyncio.Task[None]] = []
        self._handlers: set[asyncio.Task[None]] = set()
        self.handled = 0  # commands answered, for tests and metrics

    @property
    def ttl_ms(self) -> int:
        return max(1, int(self.ttl_s * 1000))

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        await self.redis.set(self.keys.node(self.node_id), str(time.time()), px=self.ttl_ms)
        self._tasks = [
            asyncio.create_task(self._heartbeat(), name="routing-heartbeat"),
            asyncio.create_task(self._consume(), name="routing-consumer"),
        ]

    async def close(self) -> None:
        """Stop consuming; forget this node and its routes (a clean shutdown)."""
        for task in [*self._tasks, *self._handlers]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._handlers, return_exceptions=True)
        self._tasks = []
        with contextlib.suppress(Exception):
            for identity in self.registry.identities():
                await self._release(keys=[self.keys.route(identity)], args=[self.node_id])
            await self.redis.delete(self.keys.node(self.node_id))
        await self.redis.aclose()

    # --- BridgeListener -----------------------------------------------------------------

    async def charger_connected(self, identity: str, ocpp_version: str) -> None:
        key = self.keys.route(identity)
        previous = await self.redis.set(key, self.node_id, px=self.ttl_ms, get=True)
        owner = previous.decode() if isinstance(previous, bytes) else previous
        if owner and owner != self.node_id:
            # The charger came to us: the other node's socket is stale (newest wins).
            message = json.dumps({"kind": "evict", "identity": identity, "by": self.node_id})
            await self.redis.lpush(self.keys.commands(owner), message)
            await self.redis.expire(self.keys.commands(owner), 60)

    async def charger_disconnected(self, identity: str) -> None:
        if self.registry.get(identity) is not None:
            return  # a newer connection of the charger is registered here: still ours
        await self._release(keys=[self.keys.route(identity)], args=[self.node_id])

    async def charger_booted(self, identity: str, firmware_version: str) -> None:
        return None

    async def status_changed(self, event: StatusChanged) -> None:
        return None

    async def firmware_status_changed(self, event: FirmwareStatusChanged) -> None:
        return None

    # --- heartbeat ----------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_s / 3)
            try:
                await self.beat()
            except Exception:
                log.exception("routing heartbeat failed; trying again")

    async def beat(self) -> None:
        await self.redis.set(self.keys.node(self.node_id), str(time.time()), px=self.ttl_ms)
        identities = self.registry.identities()
        if not identities:
            return
        keys = [self.keys.route(i) for i in identities]
        lost = await self._refresh(keys=keys, args=[self.node_id, self.ttl_ms])
        for index in lost or []:
            await self._evict(identities[int(index) - 1])

    async def _evict(self, identity: str) -> None:
        connection = self.registry.get(identity)
        if connection is not None:
            log.info("%s moved to another node; closing the connection here", identity)
            with contextlib.suppress(Exception):
                await connection.close(MOVED)

    # --- commands -----------------------------------------------------------------------

    async def _consume(self) -> None:
        queue = self.keys.commands(self.node_id)
        while True:
            try:
                popped = await self.redis.brpop([queue], timeout=self.poll_s)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reading commands failed; retrying")
                await asyncio.sleep(self.poll_s)
                continue
            if popped is None:
                continue
            task = asyncio.create_task(self._handle(popped[1]))
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)

    async def _handle(self, raw: str | bytes) -> None:
        try:
            message: dict[str, Any] = json.loads(raw)
        except ValueError:
            log.error("unreadable routed message dropped")
            return
        if message.get("kind") == "evict":
            if message.get("by") != self.node_id:
                await self._evict(str(message.get("identity")))
            return
        request_id, identity = str(message.get("id")), str(message.get("identity"))
        left = float(message.get("deadline", 0)) - time.time()
        if left <= 0:
            return  # the caller has given up already
        try:
            command = decode_command(message["command"])
            timeout_s = min(float(message.get("timeout_s", left)), left)
            result = await self.registry.execute(identity, command, timeout_s)
            reply = encode_result(result)
        except GatewayError as exc:
            reply = encode_error(exc)
        except Exception as exc:
            log.exception("routed command for %s failed", identity)
            reply = encode_error(GatewayError(identity, f"The bridge could not send it: {exc}"))
        key = self.keys.reply(request_id)
        self.handled += 1
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(key, reply)
            pipe.expire(key, REPLY_TTL_S)
            await pipe.execute()
