"""RedisRouting (a node's side) and RedisChargerGateway (the API's side) against the
real Redis (db 15), in one process: routes set and released, newest wins across nodes,
heartbeats, a command's round trip, timeouts, and Redis being unreachable."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry

from backend.adapters.gateway_redis import RedisChargerGateway
from backend.services import charger_gateway as gw
from ocpp_bridge.registry import ConnectionRegistry
from ocpp_bridge.routing import MOVED, RedisRouting
from tests.conftest import REDIS_URL
from tests.unit.charger_fakes import FakeConnection

pytestmark = pytest.mark.redis


@pytest.fixture
def prefix() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is required at {REDIS_URL}: {exc}", pytrace=False)
    p = f"wattpass-test:{uuid.uuid4().hex}:"
    yield p
    keys = list(client.scan_iter(match=p + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@contextlib.asynccontextmanager
async def node(name: str, prefix: str, ttl_s: float = 1.5) -> AsyncIterator[RedisRouting]:
    routing = RedisRouting(
        aioredis.Redis.from_url(REDIS_URL),
        ConnectionRegistry(),
        prefix + name,
        prefix=prefix,
        ttl_s=ttl_s,
        poll_s=0.2,
    )
    await routing.start()
    try:
        yield routing
    finally:
        await routing.close()


async def connect(routing: RedisRouting, identity: str) -> FakeConnection:
    conn = FakeConnection(identity)
    routing.registry.register(identity, conn)
    await routing.charger_connected(identity, "1.6")
    return conn


async def disconnect(routing: RedisRouting, conn: FakeConnection) -> None:
    routing.registry.unregister(conn.identity, conn)
    await routing.charger_disconnected(conn.identity)


def gateway(prefix: str) -> RedisChargerGateway:
    return RedisChargerGateway(redis.Redis.from_url(REDIS_URL), prefix=prefix)


def run(coro) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(asyncio.wait_for(coro, 30))


def test_a_command_goes_to_the_node_that_holds_the_charger_and_back(prefix):
    async def scenario() -> None:
        gw_ = gateway(prefix)
        async with node("A", prefix) as a, node("B", prefix) as b:
            on_a = await connect(a, "CP-1")
            on_b = await connect(b, "CP-2")
            on_b.answer = "Unlocked"
            assert gw_.node_of("CP-1") == a.node_id and gw_.node_of("CP-2") == b.node_id
            result = await asyncio.to_thread(gw_.send, "CP-2", gw.UnlockConnector(1), timeout_s=3)
            assert result == gw.CommandResult("Unlocked", {"echo": "UnlockConnector"})
            assert on_b.commands == [gw.UnlockConnector(1)] and on_a.commands == []
            assert (b.handled, a.handled) == (1, 0)
            on_a.error = gw.CommandRejected("CP-1", "NotSupported: no")
            with pytest.raises(gw.CommandRejected, match="NotSupported"):
                await asyncio.to_thread(gw_.send, "CP-1", gw.Reset(), timeout_s=3)
            with pytest.raises(gw.ChargerOffline):
                await asyncio.to_thread(gw_.send, "CP-9", gw.Reset(), timeout_s=3)
        gw_.close()

    run(scenario())


def test_a_silent_charger_is_a_timeout(prefix):
    async def scenario() -> None:
        gw_ = gateway(prefix)
        async with node("A", prefix) as a:
            conn = await connect(a, "CP-1")
            conn.delay_s = 10
            with pytest.raises(gw.ChargerTimeout):
                await asyncio.to_thread(gw_.send, "CP-1", gw.Reset(), timeout_s=0.5)
        gw_.close()

    run(scenario())


def test_routes_are_released_on_disconnect_only_by_their_owner(prefix):
    async def scenario() -> None:
        gw_ = gateway(prefix)
        async with node("A", prefix) as a, node("B", prefix) as b:
            old = await connect(a, "CP-1")
            await connect(b, "CP-1")  # it turned up at B: newest wins
            assert gw_.node_of("CP-1") == b.node_id
            for _ in range(50):  # A is told to let go of its stale socket
                if old.closed:
                    break
                await asyncio.sleep(0.05)
            assert old.closed == MOVED
            await disconnect(a, old)  # A's late disconnect must not drop B's route
            assert gw_.node_of("CP-1") == b.node_id
            # A newer connection on the same node: the older one's disconnect keeps it.
            newer = FakeConnection("CP-1")
            b.registry.register("CP-1", newer)
            await b.charger_disconnected("CP-1")
            assert gw_.node_of("CP-1") == b.node_id
            await disconnect(b, newer)
            assert gw_.node_of("CP-1") is None
        gw_.close()

    run(scenario())


def test_heartbeats_keep_routes_alive_and_a_dead_node_lets_them_expire(prefix):
    async def scenario() -> None:
        gw_ = gateway(prefix)
        async with node("A", prefix, ttl_s=0.6) as a:
            await connect(a, "CP-1")
            await asyncio.sleep(1.5)  # several TTLs: the heartbeat refreshed it
            assert gw_.is_connected("CP-1")
            # Simulate Redis losing the key: the next beat puts it back.
            with redis.Redis.from_url(REDIS_URL) as other:
                other.delete(gw_.keys.route("CP-1"))
            await a.beat()
            assert gw_.node_of("CP-1") == a.node_id
            for task in a._tasks:  # the node freezes (no clean shutdown)
                task.cancel()
            await asyncio.sleep(0.8)
            assert not gw_.is_connected("CP-1")
            with pytest.raises(gw.ChargerOffline):
                await asyncio.to_thread(gw_.send, "CP-1", gw.Reset(), timeout_s=3)
        gw_.close()

    run(scenario())


def test_redis_unreachable_is_a_gateway_error():
    client = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    dead = RedisChargerGateway(client)
    with pytest.raises(gw.GatewayError) as raised:
        dead.send("CP-1", gw.Reset())
    assert type(raised.value) is gw.GatewayError
    assert dead.is_connected("CP-1") is False
