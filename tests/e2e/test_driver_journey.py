"""Issue 5, end to end: a hotel guest charges from the app.

The whole platform on loopback: the API over real HTTP (waitress), the OCPP bridge with
its health and firmware listeners and its in-process charger gateway
(ocpp_bridge.embedded, as `wattpass run` assembles it), billing behind the session-ended
port, the background jobs, the real PostgreSQL, the real localstripe, and a
ChargerSimulator over a real websocket. Only the clock is the test's: one simulated
clock shared by the platform and the charger, moved forward in 10-second ticks, so the
evening of domain.md §6's hotel example takes seconds and its moments are exact. The
journeys run with an OCPP 1.6J and an OCPP 2.0.1 charger (RemoteStart/StopTransaction
or RequestStart/StopTransaction with the charger's own transactionId).

domain.md §6, hotel model: 2.40 PLN/kWh, idle 0.50 PLN/min 08:00–22:00 Europe/Warsaw,
no grace; plug in 20:00 at 1,000,000 Wh, car full 21:10 at 1,018,500 Wh, unplugged
23:30 → 44.40 + 25.00 = 69.40 gross = 56.42 net + 12.98 VAT.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from backend.app import create_app
from backend.db.models import (
    ChargingSession,
    Connector,
    Payment,
    SessionCharge,
    SessionStart,
)
from backend.db.models.enums import Role
from backend.jobs import background_jobs
from backend.server import PeriodicWorker, WsgiServer
from ocpp_bridge.config import BridgeSettings
from ocpp_bridge.embedded import EmbeddedBridge
from ocpp_bridge.simulator import ChargerSimulator, PowerCurve, SimClock
from tests import factories as f
from tests.integration.test_billing_support import place, price
from tests.payments_fixtures import DECLINED_WHEN_CHARGED, OK_CARD

WARSAW = ZoneInfo("Europe/Warsaw")
PASSWORD = "journey-password-1"
TICK_S = 10
# The app's start and stop as each OCPP version's charger receives them.
REMOTE_START = {"1.6": "RemoteStartTransaction", "2.0.1": "RequestStartTransaction"}
REMOTE_STOP = {"1.6": "RemoteStopTransaction", "2.0.1": "RequestStopTransaction"}


class TickingClock(SimClock):
    """Simulated time that moves only when the test ticks it: the simulator sleeps on
    it, and the platform reads it (`clock()`), so both agree to the second."""

    def __init__(self, start: datetime) -> None:
        super().__init__(1.0, start)
        self._now = start.astimezone(UTC)
        self._tick: asyncio.Event | None = None

    def __call__(self) -> datetime:
        return self._now

    def now(self) -> datetime:
        return self._now

    def real_seconds(self, sim_seconds: float) -> float:
        return 0.0

    def _event(self) -> asyncio.Event:
        if self._tick is None:
            self._tick = asyncio.Event()
        return self._tick

    async def sleep(self, sim_seconds: float) -> None:
        await self.sleep_until(self._now + timedelta(seconds=sim_seconds))

    async def sleep_until(self, at: datetime) -> None:
        while self._now < at:
            await self._event().wait()
        await asyncio.sleep(0)

    async def tick(self, seconds: int = TICK_S) -> None:
        self._now += timedelta(seconds=seconds)
        event, self._tick = self._event(), asyncio.Event()
        event.set()
        await asyncio.sleep(0.004)  # the charger's tasks run; the bridge answers

    async def run_until(self, local: datetime) -> None:
        while self._now < local.astimezone(UTC):
            await self.tick(min(TICK_S, int((local.astimezone(UTC) - self._now).total_seconds())))


def at(hour: int, minute: int, day: int = 20) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=WARSAW)


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock(at(19, 55))


@pytest.fixture
def settings(settings, stripe_env):  # type: ignore[no-untyped-def]
    return stripe_env.settings_for(settings)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Http:
    """The app's side: JSON over real HTTP, logging in again when the token has expired
    (the platform's clock runs hours in seconds; access tokens live 15 minutes)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.logins: dict[str, str] = {}
        self.tokens: dict[str, str] = {}

    def call(self, method: str, path: str, body: Any = None, who: str | None = None) -> Any:
        status, data = self._call(method, path, body, who)
        if status == 401 and who is not None:
            self.login(who, self.logins[who])
            status, data = self._call(method, path, body, who)
        return status, data

    def ok(self, method: str, path: str, body: Any = None, who: str | None = None) -> Any:
        status, data = self.call(method, path, body, who)
        assert 200 <= status < 300, (method, path, status, data)
        return data

    def login(self, email: str, password: str) -> None:
        self.logins[email] = password
        _, data = self._call("POST", "/auth/login", {"email": email, "password": password}, None)
        self.tokens[email] = data["access_token"]

    def _call(self, method: str, path: str, body: Any, who: str | None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310
        req.add_header("Content-Type", "application/json")
        if who is not None:
            req.add_header("Authorization", f"Bearer {self.tokens[who]}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            return err.code, json.loads(raw) if raw else None


@dataclass
class Platform:
    http: Http
    clock: TickingClock
    container: Any
    bridge_settings: BridgeSettings
    bridge: EmbeddedBridge
    hotel: Any
    version: Any
    staff: str
    stripe_env: Any

    def restart_bridge(self) -> None:
        self.bridge.stop()
        self.bridge = EmbeddedBridge(self.container, self.bridge_settings)
        self.bridge.start()

    def db(self, fn: Callable[[Any], Any]) -> Any:
        with self.container.session_factory() as s:
            return fn(s)


@pytest.fixture
def platform(container, clock, session, stripe_env) -> Iterator[Platform]:  # type: ignore[no-untyped-def]
    # The hotel (domain.md §6): a private site, its charger, the hotel-model price for the
    # guests' group; its staff hand out the code through the API.
    hotel = place(session, name="Hotel Pod Wawelem")
    hotel.site.visibility = "private"
    version = price(
        session,
        hotel,
        model="fixed_with_idle",
        energy="2.40",
        idle="0.50",
        window=("08:00", "22:00"),
        group=hotel.setup.company,
    )
    f.charger_password(session, hotel.cp)
    staff = f.user(session, Role.OPERATOR_STAFF, operator_id=hotel.setup.operator.id)
    staff.email = "staff@hotel.example.com"
    session.commit()
    from backend.security.passwords import hash_password

    staff.password_hash = hash_password(PASSWORD)
    session.commit()

    bridge_settings = BridgeSettings(
        host="127.0.0.1",
        port=_free_port(),
        last_seen_flush_s=0.05,
        housekeeping_s=0.5,
        command_timeout_s=10,
    )
    bridge = EmbeddedBridge(container, bridge_settings)
    bridge.start()
    api = WsgiServer("api", create_app(container=container), "127.0.0.1", 0, threads=8)
    api.start()
    worker = PeriodicWorker("workers", background_jobs(container), 0.2)
    worker.start()
    http = Http(api.url)
    http.login(staff.email, PASSWORD)
    running = Platform(
        http, clock, container, bridge_settings, bridge, hotel, version, staff.email, stripe_env
    )
    try:
        yield running
    finally:
        worker.stop()
        api.stop()
        running.bridge.stop()


def guest(p: Platform, name: str, card_number: str, code: str) -> str:
    """A driver registers, adds a phone, saves a card the app's way, redeems the code."""
    email = f"{name}@guests.example.com"
    p.http.ok("POST", "/auth/register", {"email": email, "password": PASSWORD, "full_name": name})
    p.http.login(email, PASSWORD)
    p.http.ok("POST", "/me/devices", {"token": f"fcm-{name}", "platform": "android"}, email)
    setup = p.http.ok("POST", "/me/cards/setup-intent", {}, email)
    status, body = p.stripe_env.confirm_setup(setup, card_number)
    assert status == 200, body
    assert p.http.ok("POST", "/me/cards/sync", {}, email)
    p.http.ok("POST", "/me/memberships", {"code": code}, email)
    return email


def guest_code(p: Platform) -> str:
    body = {
        "kind": "permanent",
        "label": "Goście – karta",
        "site_ids": [p.hotel.site.id],
        "price_group_id": p.hotel.setup.company.id,
        "billing_mode": "per_session",
    }
    made = p.http.ok("POST", f"/operators/{p.hotel.setup.operator.id}/codes", body, p.staff)
    return str(made["code"])


async def until(check: Callable[[], Any], what: str, clock: TickingClock | None = None) -> Any:
    """Poll (off the event loop) until `check()` is truthy, ticking `clock` if given;
    a minute of wall-clock time at most (a busy CI machine is slow, not wrong)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(check)
        if value:
            return value
        if clock is not None:
            await clock.tick()
        else:
            await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def connector_status(p: Platform) -> str:
    return str(
        p.db(
            lambda s: s.scalar(
                select(Connector.status).where(
                    Connector.charge_point_id == p.hotel.cp.id, Connector.connector_id == 1
                )
            )
        )
    )


async def connected_simulator(p: Platform, version: str = "1.6") -> ChargerSimulator:
    sim = ChargerSimulator(
        p.hotel.cp.ocpp_identity,
        f.CHARGER_PASSWORD,
        f"{p.bridge.url}",
        version=version,
        connectors=2,
        clock=p.clock,
        reconnect_delay_s=20,
        reboot_delay_s=10,
    )
    await sim.connect(timeout=20)
    return sim


async def plug_in_the_car(p: Platform, sim: ChargerSimulator) -> None:
    """18.5 kWh short of full at a steady 16 kW, on a meter at 1,000,000 Wh: full in
    69 min 22.5 s, i.e. at the sample of minute 70 (samples are per minute)."""
    conn = sim.connector(1)
    conn.meter_ws = 1_000_000 * 3600
    await sim.plug_in(
        1,
        battery_wh=37_000,
        soc_percent=50,
        curve=PowerCurve(max_power_w=16_000, taper_from_percent=100),
    )
    await until(lambda: connector_status(p) == "Preparing", "the car plugged in")


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_hotel_guest_charges_and_pays_the_worked_example_exactly(
    platform: Platform, version: str
) -> None:
    asyncio.run(asyncio.wait_for(_journey(platform, version), timeout=240))


async def _journey(p: Platform, version: str) -> None:
    http, clock = p.http, p.clock
    code = await asyncio.to_thread(guest_code, p)
    anna = await asyncio.to_thread(guest, p, "anna", OK_CARD, code)
    sim = await connected_simulator(p, version)
    try:
        await clock.run_until(at(20, 0))
        await plug_in_the_car(p, sim)

        # Start from the app: card hold first, then the remote start with Anna's app tag.
        body = {"charge_point_id": p.hotel.cp.id, "connector_id": 1}
        status, start = await asyncio.to_thread(http.call, "POST", "/me/sessions", body, anna)
        assert status == 201, start
        assert (start["billing_mode"], start["payment"]) == ("per_session", "hold_placed")
        (remote,) = sim.received(REMOTE_START[version])
        assert "APP-" in json.dumps(remote.payload), remote.payload

        def started() -> Any:
            polled = http.ok("GET", f"/me/session-starts/{start['id']}", None, anna)
            assert polled["status"] != "failed", polled
            return polled["session_id"]

        session_id = await until(started, "the session to start")
        hold = p.db(lambda s: s.scalars(select(Payment).where(Payment.kind == "hold")).one())
        assert (hold.session_ref, hold.status) == (session_id, "authorized")

        # Half an hour in: 8 kWh at 16 kW, 19.20 so far.
        await clock.run_until(at(20, 30))

        def live_at_half_past() -> Any:
            live = http.ok("GET", f"/me/sessions/{session_id}", None, anna)
            return live if live["energy_kwh"] == "8.000" else None

        live = await until(live_at_half_past, "the meter values of 20:30")
        assert (live["state"], live["power_kw"], live["cost_so_far"]) == (
            "charging",
            "16.000",
            "19.20",
        )

        # The bridge restarts mid-session; the charger queues what it measures meanwhile,
        # reconnects and replays it.
        await asyncio.to_thread(p.restart_bridge)
        await clock.run_until(at(20, 40))
        await until(lambda: sim.online, "the charger to reconnect", clock)

        await clock.run_until(at(21, 10))

        def car_full() -> Any:
            return p.db(lambda s: s.get(ChargingSession, session_id).car_full_at)

        # Ticking on: SuspendedEV says it at 21:10, and so do the zero-power samples from
        # 21:10 on (should a late 16 kW sample of 21:09 have cleared the first word).
        full_at = await until(car_full, "the car to be full", clock)
        assert full_at == at(21, 10)
        await clock.run_until(at(22, 30))
        idle = http.ok("GET", f"/me/sessions/{session_id}", None, anna)
        assert (idle["state"], idle["energy_kwh"], idle["idle_minutes"]) == (
            "car_full",
            "18.500",
            50,
        )
        assert idle["cost_so_far"] == "69.40"

        await clock.run_until(at(23, 30))
        await sim.unplug(1)

        def billed() -> Any:
            view = http.ok("GET", f"/me/sessions/{session_id}", None, anna)
            return view if view["receipt_id"] else None

        ended = await until(billed, "the receipt")
    finally:
        await sim.close()

    assert (ended["state"], ended["amount"], ended["energy_kwh"]) == ("ended", "69.40", "18.500")
    receipt = await asyncio.to_thread(
        http.ok, "GET", f"/me/receipts/{ended['receipt_id']}", None, anna
    )
    assert (receipt["gross"], receipt["net"], receipt["vat"]) == ("69.40", "56.42", "12.98")
    assert [(line["kind"], line["amount"]) for line in receipt["lines"]] == [
        ("energy", "44.40"),
        ("idle", "25.00"),
    ]
    # One session, one charge: the restart lost nothing and doubled nothing.
    assert p.db(lambda s: s.scalar(select(func.count()).select_from(ChargingSession))) == 1
    charge = p.db(lambda s: s.scalars(select(SessionCharge)).one())
    assert (charge.gross_minor, charge.idle_minutes, charge.energy_wh) == (6940, 50, 18_500)
    payments = p.db(lambda s: s.scalars(select(Payment)).all())
    assert [(x.kind, x.status, x.captured_minor) for x in payments] == [("hold", "captured", 6940)]

    # The phone got the pushes in order.
    def pushed() -> list[str]:
        kinds = [m["data"]["kind"] for m in http.ok("GET", "/me/outbox", None, anna)]
        return kinds if "session_ended" in kinds else []

    kinds = await until(pushed, "the session-ended push")  # billing sends it after the receipt
    assert kinds == ["session_started", "charging_complete", "session_ended"], kinds


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_guest_stops_from_the_app_and_pays_once(platform: Platform, version: str) -> None:
    asyncio.run(asyncio.wait_for(_stopped_from_the_app(platform, version), timeout=180))


def _charger_stop(sim: ChargerSimulator, version: str) -> dict[str, Any] | None:
    """The charger's own report that the transaction ended (StopTransaction / Ended)."""
    if version == "1.6":
        stops = sim.sent("StopTransaction")
    else:
        stops = [e for e in sim.sent("TransactionEvent") if e["eventType"] == "Ended"]
    return stops[0] if stops else None


async def _stopped_from_the_app(p: Platform, version: str) -> None:
    """Start from the app, watch it charge, stop from the app with the car still plugged
    in, then unplug: 20:00–20:30 at 16 kW = 8 kWh × 2.40 = 19.20 gross (15.61 + 3.59
    VAT); the car never got full, so no idle minutes."""
    http, clock = p.http, p.clock
    code = await asyncio.to_thread(guest_code, p)
    cara = await asyncio.to_thread(guest, p, "cara", OK_CARD, code)
    sim = await connected_simulator(p, version)
    try:
        await clock.run_until(at(20, 0))
        await plug_in_the_car(p, sim)

        body = {"charge_point_id": p.hotel.cp.id, "connector_id": 1}
        status, start = await asyncio.to_thread(http.call, "POST", "/me/sessions", body, cara)
        assert status == 201, start
        (remote,) = sim.received(REMOTE_START[version])
        assert "APP-" in json.dumps(remote.payload), remote.payload

        def started() -> Any:
            polled = http.ok("GET", f"/me/session-starts/{start['id']}", None, cara)
            assert polled["status"] != "failed", polled
            return polled["session_id"]

        session_id = await until(started, "the session to start")
        tx = sim.connector(1).transaction
        assert tx is not None
        linked = p.db(lambda s: s.get(SessionStart, start["id"]))
        assert (linked.status, linked.session_id) == ("started", session_id)
        row = p.db(lambda s: s.get(ChargingSession, session_id))
        assert (row.ocpp_version, row.status) == (version, "active")
        if version == "2.0.1":
            # The charger names the transaction; the start it answers is the app's.
            assert row.charger_transaction_id == tx.local_id
            (event,) = [e for e in sim.sent("TransactionEvent") if e["eventType"] == "Started"]
            remote_start_id = remote.payload["remoteStartId"]
            assert event["transactionInfo"]["remoteStartId"] == remote_start_id
            assert event["triggerReason"] == "RemoteStart"
        hold = p.db(lambda s: s.scalars(select(Payment).where(Payment.kind == "hold")).one())
        assert (hold.session_ref, hold.status) == (session_id, "authorized")

        # The live view: the kWh rise with the meter values, the cost with them.
        seen: list[Decimal] = []
        for moment, kwh in ((at(20, 10), None), (at(20, 30), "8.000")):
            await clock.run_until(moment)

            def live(moment: datetime = moment, kwh: str | None = kwh) -> Any:
                view = http.ok("GET", f"/me/sessions/{session_id}", None, cara)
                energy = Decimal(view["energy_kwh"])
                if kwh is not None and view["energy_kwh"] != kwh:
                    return None
                if kwh is None and energy < Decimal("2.6"):  # 16 kW for 10 min: 2.666
                    return None
                return view

            view = await until(live, f"the meter values of {moment:%H:%M}")
            assert view["state"] == "charging", view
            seen.append(Decimal(view["energy_kwh"]))
        assert seen[0] < seen[1], seen
        assert (view["power_kw"], view["cost_so_far"]) == ("16.000", "19.20")

        # Stop from the app, the cable still in: the charger is asked to stop its own
        # transaction (its transactionId) and reports it ended.
        stopped = await asyncio.to_thread(
            http.ok, "POST", f"/me/sessions/{session_id}/stop", None, cara
        )
        assert stopped["id"] == session_id
        (asked,) = sim.received(REMOTE_STOP[version])
        expected_tx = tx.local_id if version == "2.0.1" else tx.remote_id
        assert asked.payload["transactionId"] == expected_tx, asked.payload
        assert asked.response == {"status": "Accepted"}, asked.response
        ended_event = await until(lambda: _charger_stop(sim, version), "the charger's stop")
        if version == "2.0.1":
            info = ended_event["transactionInfo"]
            assert (info["transactionId"], info["stoppedReason"]) == (tx.local_id, "Remote")
            assert ended_event["triggerReason"] == "RemoteStop"
        else:
            assert (ended_event["transactionId"], ended_event["reason"]) == (tx.remote_id, "Remote")
        assert sim.connector(1).transaction is None

        def cable_in() -> Any:
            view = http.ok("GET", f"/me/sessions/{session_id}", None, cara)
            return view if view["state"] == "stopped" else None

        view = await until(cable_in, "the session to stop with the cable in")
        assert (view["energy_kwh"], view["receipt_id"]) == ("8.000", None)
        # Stopping again is refused without bothering the charger.
        path = f"/me/sessions/{session_id}/stop"
        again, _ = await asyncio.to_thread(http.call, "POST", path, None, cara)
        assert again == 409
        row = p.db(lambda s: s.get(ChargingSession, session_id))
        assert (row.stopped_at, row.unplugged_at) == (at(20, 30), None)

        await clock.run_until(at(20, 35))
        await sim.unplug(1)

        def billed() -> Any:
            view = http.ok("GET", f"/me/sessions/{session_id}", None, cara)
            return view if view["receipt_id"] else None

        ended = await until(billed, "the receipt")
    finally:
        await sim.close()

    assert (ended["state"], ended["amount"], ended["energy_kwh"]) == ("ended", "19.20", "8.000")
    assert ended["idle_minutes"] in (0, None), ended
    receipt = await asyncio.to_thread(
        http.ok, "GET", f"/me/receipts/{ended['receipt_id']}", None, cara
    )
    assert (receipt["gross"], receipt["net"], receipt["vat"]) == ("19.20", "15.61", "3.59")
    assert [(line["kind"], line["amount"]) for line in receipt["lines"]] == [("energy", "19.20")]
    row = p.db(lambda s: s.get(ChargingSession, session_id))
    assert (row.stopped_at, row.unplugged_at) == (at(20, 30), at(20, 35))
    assert p.db(lambda s: s.scalar(select(func.count()).select_from(ChargingSession))) == 1
    charge = p.db(lambda s: s.scalars(select(SessionCharge)).one())
    assert (charge.gross_minor, charge.energy_wh) == (1920, 8_000)
    payments = p.db(lambda s: s.scalars(select(Payment)).all())
    assert [(x.kind, x.status, x.captured_minor) for x in payments] == [("hold", "captured", 1920)]
    assert len(sim.received(REMOTE_STOP[version])) == 1

    def pushed() -> list[str]:
        kinds = [m["data"]["kind"] for m in http.ok("GET", "/me/outbox", None, cara)]
        return kinds if "session_ended" in kinds else []

    kinds = await until(pushed, "the session-ended push")
    assert kinds == ["session_started", "session_ended"], kinds


def test_a_declined_card_never_reaches_the_charger(platform: Platform) -> None:
    asyncio.run(asyncio.wait_for(_declined(platform), timeout=120))


async def _declined(p: Platform) -> None:
    code = await asyncio.to_thread(guest_code, p)
    bob = await asyncio.to_thread(guest, p, "bob", DECLINED_WHEN_CHARGED, code)
    sim = await connected_simulator(p)
    try:
        await clock_to_evening(p)
        await plug_in_the_car(p, sim)
        body = {"charge_point_id": p.hotel.cp.id, "connector_id": 1}
        status, answer = await asyncio.to_thread(p.http.call, "POST", "/me/sessions", body, bob)
        assert status == 402, answer
        assert answer["code"] == "card_declined" and answer["message"]
        await asyncio.sleep(0.2)
        assert sim.received("RemoteStartTransaction") == []
        assert p.db(lambda s: s.scalar(select(func.count()).select_from(ChargingSession))) == 0
    finally:
        await sim.close()


async def clock_to_evening(p: Platform) -> None:
    await p.clock.run_until(at(20, 0))
