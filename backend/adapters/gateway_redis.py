"""The Redis-routed charger gateway (production shape: N bridge nodes).

Each bridge node (ocpp_bridge/routing.py) keeps in Redis, for every charger it holds,
``route:<identity> = <node id>`` with a TTL its heartbeat refreshes, and
``node:<node id>`` (alive) the same way; it reads commands from its own list
``node:<node id>:commands``. This side looks the node up, pushes the command with a
request id, and waits for the answer on ``reply:<request id>``:

- no route, or the node's alive key gone (killed: after its TTL) → ChargerOffline;
- no answer in time → ChargerTimeout; a CALLERROR → CommandRejected;
- Redis unreachable → GatewayError (the API answers 503).

Messages are JSON; commands are the charger-gateway dataclasses, named by class. This
module uses only redis and `backend.services.charger_gateway`, so the bridge nodes share
its codec and key names.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from datetime import datetime
from typing import Any

import redis

from backend.services import charger_gateway as gw

DEFAULT_PREFIX = "wattpass:ocpp:"
REPLY_TTL_S = 60  # an answer nobody collects (the caller gave up) disappears
QUEUE_TTL_S = 60  # so does the command list of a node that died
GRACE_S = 1.0  # the node answers "timeout" itself; this covers the hop back
POLL_S = 1.0  # how often a waiting caller checks that the node is still alive

COMMANDS: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        gw.RemoteStart,
        gw.RemoteStop,
        gw.Reset,
        gw.UnlockConnector,
        gw.ChangeAvailability,
        gw.GetConfiguration,
        gw.ChangeConfiguration,
        gw.TriggerMessage,
        gw.UpdateFirmware,
        gw.GetDiagnostics,
    )
}
ERRORS: dict[str, type[gw.GatewayError]] = {
    cls.code: cls for cls in (gw.ChargerOffline, gw.ChargerTimeout, gw.CommandRejected)
}


class Keys:
    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix

    def route(self, identity: str) -> str:
        return f"{self.prefix}route:{identity}"

    def node(self, node_id: str) -> str:
        return f"{self.prefix}node:{node_id}"

    def commands(self, node_id: str) -> str:
        return f"{self.prefix}node:{node_id}:commands"

    def reply(self, request_id: str) -> str:
        return f"{self.prefix}reply:{request_id}"


# --- codec ---------------------------------------------------------------------------------


def encode_command(command: gw.Command) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(command):
        value = getattr(command, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        fields[f.name] = value
    return {"type": type(command).__name__, "fields": fields}


def decode_command(data: dict[str, Any]) -> gw.Command:
    cls = COMMANDS.get(str(data.get("type")))
    if cls is None:
        raise ValueError(f"unknown command {data.get('type')!r}")
    values = dict(data.get("fields") or {})
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        if f.type in ("datetime", datetime):
            values[f.name] = datetime.fromisoformat(values[f.name])
        elif str(f.type).startswith("tuple"):
            values[f.name] = tuple(values[f.name])
    command: gw.Command = cls(**values)
    return command


def encode_result(result: gw.CommandResult) -> str:
    return json.dumps({"ok": True, "status": result.status, "data": result.data}, default=str)


def encode_error(error: gw.GatewayError) -> str:
    return json.dumps({"ok": False, "error": error.code, "message": error.message})


def decode_reply(identity: str, raw: str | bytes) -> gw.CommandResult:
    data = json.loads(raw)
    if data.get("ok"):
        return gw.CommandResult(str(data["status"]), dict(data.get("data") or {}))
    cls = ERRORS.get(str(data.get("error")), gw.GatewayError)
    raise cls(identity, str(data.get("message") or "The charger could not be reached."))


# --- the backend's side ------------------------------------------------------------------------


class RedisChargerGateway(gw.ChargerGateway):
    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._redis = client
        self.keys = Keys(prefix)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = DEFAULT_PREFIX) -> RedisChargerGateway:
        return cls(redis.Redis.from_url(url), prefix=prefix)

    def close(self) -> None:
        self._redis.close()

    def node_of(self, identity: str) -> str | None:
        """The node holding the charger's websocket, if it is alive."""
        node = self._redis.get(self.keys.route(identity))
        if node is None:
            return None
        node_id = node.decode() if isinstance(node, bytes) else str(node)
        return node_id if self._redis.exists(self.keys.node(node_id)) else None

    def is_connected(self, identity: str) -> bool:
        try:
            return self.node_of(identity) is not None
        except redis.RedisError:
            return False

    def send(
        self, identity: str, command: gw.Command, *, timeout_s: float = 30.0
    ) -> gw.CommandResult:
        try:
            return self._send(identity, command, timeout_s)
        except redis.RedisError as exc:
            raise gw.GatewayError(
                identity, "The charger connection service is unreachable; try again shortly."
            ) from exc

    def _send(self, identity: str, command: gw.Command, timeout_s: float) -> gw.CommandResult:
        node = self.node_of(identity)
        if node is None:
            raise gw.ChargerOffline(identity, f"Charger {identity} is not connected.")
        request_id = uuid.uuid4().hex
        message = {
            "kind": "command",
            "id": request_id,
            "identity": identity,
            "command": encode_command(command),
            "timeout_s": timeout_s,
            "deadline": time.time() + timeout_s,
        }
        queue = self.keys.commands(node)
        with self._redis.pipeline() as pipe:
            pipe.lpush(queue, json.dumps(message))
            pipe.expire(queue, QUEUE_TTL_S)
            pipe.execute()
        reply_key = self.keys.reply(request_id)
        give_up = time.monotonic() + timeout_s + GRACE_S
        while (left := give_up - time.monotonic()) > 0:
            popped = self._redis.blpop([reply_key], timeout=max(0.01, min(POLL_S, left)))
            if popped is not None:
                return decode_reply(identity, popped[1])
            if not self._redis.exists(self.keys.node(node)):
                raise gw.ChargerOffline(
                    identity, f"Charger {identity} is not connected (its bridge node stopped)."
                )
        raise gw.ChargerTimeout(
            identity, f"Charger {identity} did not answer within {timeout_s:g} s."
        )
