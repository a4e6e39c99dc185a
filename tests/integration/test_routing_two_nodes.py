"""Two bridge nodes as separate processes on loopback, one PostgreSQL database and
Redis (db 15), simulated chargers spread over both: a command sent through the
RedisChargerGateway reaches the node that holds the charger; a charger that moves from
node A to node B is then routed to B (and if it turns up at B while A still holds a
stale socket, A lets go); a killed node's chargers are offline once its TTL is over."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from backend.adapters.gateway_redis import RedisChargerGateway
from backend.services import charger_gateway as gw
from ocpp_bridge.simulator import ChargerSimulator, SimClock
from tests import factories as f
from tests.conftest import REDIS_URL
from tests.integration.bridge_harness import eventually, run

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[2]
TTL_S = 2


class Node:
    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ocpp_bridge", "--port", "0"],
            cwd=ROOT,
            env=env | {"WATTPASS_OCPP_NODE_ID": name},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.url = self._ready()

    def _ready(self) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("READY "):
                return line.split()[1]
            if not line and self.proc.poll() is not None:
                break
        self.stop()
        raise AssertionError(f"bridge node {self.name} did not start")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


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


@pytest.fixture
def identities(session) -> list[str]:  # type: ignore[no-untyped-def]
    site = f.site(session, f.operator(session))
    out = []
    for _ in range(4):
        cp = f.charge_point(session, site, connectors=1)
        f.charger_password(session, cp)
        out.append(cp.ocpp_identity)
    session.commit()
    return out


@pytest.fixture
def nodes(pg_url, prefix) -> Iterator[dict[str, Node]]:  # type: ignore[no-untyped-def]
    env = dict(os.environ) | {
        "DATABASE_URL": pg_url,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "test-secret-" + "x" * 32,
        "WATTPASS_OCPP_HOST": "127.0.0.1",
        "WATTPASS_OCPP_ROUTE_TTL_S": str(TTL_S),
        "WATTPASS_OCPP_ROUTE_PREFIX": prefix,
        "WATTPASS_OCPP_COMMAND_TIMEOUT_S": "5",
    }
    started: dict[str, Node] = {}
    try:
        for name in ("A", "B"):
            started[name] = Node(f"{prefix}{name}", env)
        yield started
    finally:
        for node in started.values():
            node.stop()


def simulator(identity: str, url: str, **kw: object) -> ChargerSimulator:
    return ChargerSimulator(
        identity, f.CHARGER_PASSWORD, url, version="1.6", clock=SimClock(1), **kw
    )


def unlocks(sim: ChargerSimulator) -> int:
    return len([e for e in sim.events if e.action == "UnlockConnector"])


def test_commands_follow_the_charger_across_nodes(identities, nodes, prefix):
    gateway = RedisChargerGateway(redis.Redis.from_url(REDIS_URL), prefix=prefix)
    a, b = nodes["A"], nodes["B"]

    async def send(identity: str, command: gw.Command, timeout_s: float = 5) -> gw.CommandResult:
        return await asyncio.to_thread(gateway.send, identity, command, timeout_s=timeout_s)

    async def scenario() -> None:
        one, two, three, four = identities
        sims = {
            one: simulator(one, a.url),
            two: simulator(two, a.url, reboot_delay_s=3600, reconnect_delay_s=3600),
            three: simulator(three, b.url),
            four: simulator(four, b.url),
        }
        extra: list[ChargerSimulator] = []
        try:
            await asyncio.gather(*(s.connect(10) for s in sims.values()))
            for identity in identities:
                await eventually(lambda i=identity: gateway.is_connected(i), timeout=5)
            assert [gateway.node_of(i) for i in identities] == [a.name, a.name, b.name, b.name]

            # Each command reaches the charger through the node that holds it.
            for identity, sim in sims.items():
                answer = await send(identity, gw.UnlockConnector(1))
                assert answer == gw.CommandResult("Unlocked")
                assert unlocks(sim) == 1
            rejected = await send(three, gw.ChangeAvailability(7, False))
            assert rejected.status == "Rejected"  # the charger's own answer, via node B

            # Charger one moves from A to B: the route follows.
            await sims[one].close()
            await eventually(lambda: not gateway.is_connected(one), timeout=5)
            with pytest.raises(gw.ChargerOffline):
                await send(one, gw.Reset())
            moved = simulator(one, b.url)
            extra.append(moved)
            await moved.connect(10)
            await eventually(lambda: gateway.node_of(one) == b.name, timeout=5)
            assert (await send(one, gw.UnlockConnector(1))).status == "Unlocked"
            assert unlocks(moved) == 1 and unlocks(sims[one]) == 1

            # Charger two turns up at B while A still holds its old socket: newest wins,
            # A closes the stale one.
            again = simulator(two, b.url)
            extra.append(again)
            await again.connect(10)
            await eventually(lambda: gateway.node_of(two) == b.name, timeout=5)
            await eventually(lambda: not sims[two].online, timeout=5)
            assert (await send(two, gw.UnlockConnector(1))).status == "Unlocked"
            assert unlocks(again) == 1 and unlocks(sims[two]) == 1
            await asyncio.sleep(TTL_S)  # heartbeats pass; nothing flips back to A
            assert gateway.node_of(two) == b.name

            # Node B dies: its chargers are offline once its TTL is over; A's are not.
            b.kill()
            started = time.monotonic()
            with pytest.raises(gw.ChargerOffline):
                await send(four, gw.UnlockConnector(1), timeout_s=10)
            assert time.monotonic() - started < TTL_S + 2
            await eventually(lambda: not gateway.is_connected(three), timeout=TTL_S + 2)
            with pytest.raises(gw.ChargerOffline):
                await send(three, gw.Reset())
            assert gateway.node_of(one) is None  # it was on B too
            # Chargers whose node died reconnect elsewhere (here: to A) and are reachable.
            for sim in (sims[three], sims[four]):
                await sim.close()
            back = simulator(three, a.url)
            extra.append(back)
            await back.connect(10)
            await eventually(lambda: gateway.node_of(three) == a.name, timeout=5)
            assert (await send(three, gw.UnlockConnector(1))).status == "Unlocked"
        finally:
            for sim in [*sims.values(), *extra]:
                await sim.close()

    try:
        run(scenario())
    finally:
        gateway.close()
