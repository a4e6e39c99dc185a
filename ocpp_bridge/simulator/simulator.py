"""The scriptable charger: a driver's journeys on top of the link.

sim = ChargerSimulator("CP-1", "secret", "ws://127.0.0.1:9000/ocpp", version="1.6",
                       clock=SimClock(speed=600))
await sim.connect()
await sim.plug_in(connector_id=1, id_tag="04A1B2C3")   # Preparing, Authorize, start
await sim.charge()                                      # meter values until the car is full
await sim.idle(15 * 60)
await sim.unplug()                                      # stop, Finishing, Available
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from ocpp_bridge.simulator.base import SimulatorBase
from ocpp_bridge.simulator.commands import CommandsMixin
from ocpp_bridge.simulator.curve import Battery, PowerCurve, charge
from ocpp_bridge.simulator.model import Connector, Transaction


class SimulatorError(Exception):
    """A journey step that makes no sense in the charger's state (e.g. unplug twice)."""


class ChargerSimulator(CommandsMixin, SimulatorBase):
    def __init__(
        self,
        identity: str,
        password: str | None,
        url: str,
        *,
        curve: PowerCurve | None = None,
        battery_wh: int = 60_000,
        soc_percent: int = 20,
        meter_interval_s: int = 60,
        **kwargs: Any,
    ) -> None:
        super().__init__(identity, password, url, **kwargs)
        self.config.set_internal("MeterValueSampleInterval", str(meter_interval_s))
        self.curve = curve or PowerCurve()
        self.battery_wh, self.soc_percent = battery_wh, soc_percent
        self.firmware_failure: str | None = None  # None, "DownloadFailed", "InstallationFailed"
        self.next_firmware_version: str | None = None
        self.firmware_status = "Idle"
        self.upload_status = "Idle"
        self.firmware_step_s = 60
        self._meters: dict[int, asyncio.Task[None]] = {}
        self._stopped: dict[int, asyncio.Event] = {}
        self._reset_when_idle: str | None = None

    def connector(self, connector_id: int) -> Connector:
        if connector_id == 0:
            return self.charger
        try:
            return self.connectors[connector_id]
        except KeyError:
            raise SimulatorError(f"{self.identity} has no connector {connector_id}") from None

    async def set_status(self, conn: Connector, status: str, error_code: str = "NoError") -> None:
        conn.status, conn.error_code = status, error_code
        await self.protocol.status(conn)

    async def idle(self, seconds: float) -> None:
        """Let `seconds` of simulated time pass."""
        await self.clock.sleep(seconds)

    # -- journeys --------------------------------------------------------------------
    async def plug_in(
        self,
        connector_id: int = 1,
        id_tag: str | None = None,
        *,
        battery_wh: int | None = None,
        soc_percent: int | None = None,
        curve: PowerCurve | None = None,
    ) -> Transaction | None:
        """A car is plugged in (Preparing); with `id_tag` the driver also badges, which
        starts a session. Returns the session, if one started."""
        conn = self.connector(connector_id)
        if conn.plugged:
            raise SimulatorError(f"connector {connector_id} already has a car")
        conn.plugged = True
        conn.battery = Battery.at_percent(
            battery_wh or self.battery_wh,
            self.soc_percent if soc_percent is None else soc_percent,
        )
        conn.curve = curve or self.curve
        if conn.status == "Available":
            await self.set_status(conn, "Preparing")
        if id_tag is None:
            return None
        return await self.start_session(connector_id, id_tag)

    async def start_session(
        self,
        connector_id: int = 1,
        id_tag: str = "SIMTAG",
        *,
        remote_start_id: int | None = None,
        authorize: bool = True,
    ) -> Transaction | None:
        """Authorize (when online) and start a transaction; None if refused."""
        conn = self.connector(connector_id)
        if not conn.plugged or conn.transaction is not None:
            raise SimulatorError(f"connector {connector_id} has no car or already a session")
        if conn.faulted or not conn.operative:
            return None
        if authorize and self.online and not await self.protocol.authorize(id_tag):
            return None
        tx = Transaction(connector_id, id_tag, conn.meter_wh, self.clock.now())
        tx.remote_start_id = remote_start_id
        conn.transaction = tx
        self._stopped[connector_id] = asyncio.Event()
        await self.deliver(self.protocol.started(conn, tx))
        if not tx.authorized:
            await self._end_transaction(conn, "DeAuthorized")
            await self.set_status(conn, "Finishing")
            return None
        await self.set_status(conn, "Charging")
        self._meters[connector_id] = self.spawn(self._meter_loop(conn, tx))
        return tx

    async def charge(self, connector_id: int = 1, *, duration_s: float | None = None) -> int:
        """Wait while the session charges, until the car is full or the session ends (or
        `duration_s` simulated seconds passed). Returns the session's energy in Wh."""
        conn = self.connector(connector_id)
        tx = conn.transaction
        if tx is None:
            raise SimulatorError(f"connector {connector_id} has no session")
        stopped = self._stopped[connector_id]
        timeout = None if duration_s is None else self.clock.real_seconds(duration_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopped.wait(), timeout)
        return conn.meter_wh - tx.meter_start_wh

    async def car_full(self, connector_id: int = 1) -> None:
        """The car stops drawing power: SuspendedEV, power 0 (the session goes on)."""
        conn = self.connector(connector_id)
        tx = conn.transaction
        if tx is None or tx.charging_state == "SuspendedEV":
            return
        tx.charging_state = "SuspendedEV"
        conn.power_w = 0
        self._stopped[connector_id].set()
        await self.set_status(conn, "SuspendedEV")
        message = self.protocol.charging_state(conn, tx, "ChargingStateChanged")
        if message is not None:
            await self.deliver(message)

    async def unplug(self, connector_id: int = 1) -> None:
        """The driver unplugs: the session stops (EVDisconnected), Finishing, Available."""
        conn = self.connector(connector_id)
        if not conn.plugged:
            raise SimulatorError(f"connector {connector_id} has no car")
        had_session = conn.transaction is not None
        if had_session:
            await self._end_transaction(conn, "EVDisconnected")
        conn.plugged, conn.battery = False, None
        if conn.faulted:
            return
        if had_session:
            await self.set_status(conn, "Finishing")
        await self.set_status(conn, conn.resting_status())

    async def fault(
        self, connector_id: int = 1, error_code: str = "GroundFailure", info: str | None = None
    ) -> None:
        """A hardware fault: any session on it stops, the connector (0: the whole charger)
        reports Faulted with `error_code` until a Reset."""
        targets = list(self.connectors.values()) if connector_id == 0 else []
        conn = self.connector(connector_id)
        for target in [*targets, conn]:
            target.error_code = error_code
            if target.transaction is not None:
                await self._end_transaction(target, "Other")
            await self.set_status(target, "Faulted", error_code)
            await self.protocol.fault_reported(target, error_code, info)

    async def go_offline(self) -> None:
        """The network goes away; transaction messages queue up from now on."""
        await self._go_down()

    async def come_back(self, timeout: float | None = 30) -> None:
        """The network is back: reconnect, boot, and replay what was queued, in order."""
        await self.connect(timeout)

    async def reboot(self, timeout: float | None = 30) -> None:
        """Power-cycle: sessions stop (Reboot), faults clear, reconnect and boot."""
        await self.reset("Hard", reason="Reboot", boot_reason="LocalReset", wait=timeout)

    # -- internals -------------------------------------------------------------------
    def _sample_period(self) -> int:
        return max(1, self.config.get_int("MeterValueSampleInterval") or 60)

    def _advance(self, conn: Connector, seconds: int) -> bool:
        """Let energy flow for `seconds`; True when the car has just become full."""
        tx = conn.transaction
        if tx is None or conn.battery is None or tx.charging_state != "Charging":
            conn.power_w = 0
            return False
        step = charge(conn.curve, conn.battery, seconds)
        conn.meter_ws += step.energy_ws
        conn.power_w = step.power_w
        return step.full

    async def _meter_loop(self, conn: Connector, tx: Transaction) -> None:
        # Samples fall on exact multiples of the interval after the start, so energy and
        # timestamps do not depend on how busy the event loop was.
        while not tx.ended:
            period = self._sample_period()
            at = tx.last_sample_at + timedelta(seconds=period)
            await self.clock.sleep_until(at)
            if tx.ended:
                return
            full = self._advance(conn, period)
            tx.last_sample_at = at
            if self.config.get_int("MeterValueSampleInterval") > 0:
                self.submit(self.protocol.meter(conn, tx, at, "Sample.Periodic"))
            if full:
                await self.car_full(conn.id)

    async def _end_transaction(self, conn: Connector, reason: str) -> None:
        tx = conn.transaction
        if tx is None:
            return
        tx.ended = True
        meter = self._meters.pop(conn.id, None)
        if meter is not None and meter is not asyncio.current_task():
            meter.cancel()
        now = self.clock.now()
        self._advance(conn, int((now - tx.last_sample_at).total_seconds()))
        conn.power_w = 0
        await self.deliver(self.protocol.ended(conn, tx, reason, now))
        conn.transaction = None
        self._stopped[conn.id].set()
        if conn.pending_inoperative:
            conn.operative, conn.pending_inoperative = False, False
        if self._reset_when_idle and all(c.transaction is None for c in self.connectors.values()):
            kind, self._reset_when_idle = self._reset_when_idle, None
            self.spawn(self.reset(kind))
