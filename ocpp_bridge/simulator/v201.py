"""OCPP 2.0.1: the messages the simulated charger sends and the commands it answers.

Connector n is modelled as EVSE n with one connector. The 1.6 words the simulator keeps
map onto 2.0.1's connector status (Preparing, Charging, … → Occupied) and the
transaction's charging state; a session is one TransactionEvent Started / Updated… /
Ended, each with the transaction's next seqNo.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ocpp.v201 import ChargePoint, call

from ocpp_bridge.simulator.base import LINK_ERRORS
from ocpp_bridge.simulator.clock import iso
from ocpp_bridge.simulator.model import Connector, Transaction
from ocpp_bridge.simulator.queue import QueuedMessage
from ocpp_bridge.simulator.v201_commands import V201Commands

if TYPE_CHECKING:
    from ocpp_bridge.simulator.simulator import ChargerSimulator

CONNECTOR_STATUS = {"Available": "Available", "Unavailable": "Unavailable", "Faulted": "Faulted"}
TRIGGER_FOR = {  # stop reason (1.6 words) -> (triggerReason, stoppedReason)
    "EVDisconnected": ("EVCommunicationLost", "EVDisconnected"),
    "Remote": ("RemoteStop", "Remote"),
    "Local": ("StopAuthorized", "Local"),
    "DeAuthorized": ("Deauthorized", "DeAuthorized"),
    "SoftReset": ("ResetCommand", "ImmediateReset"),
    "HardReset": ("ResetCommand", "ImmediateReset"),
    "Reboot": ("ResetCommand", "Reboot"),
    "UnlockCommand": ("UnlockCommand", "Other"),
    "EmergencyStop": ("AbnormalCondition", "EmergencyStop"),
    "PowerLoss": ("AbnormalCondition", "PowerLoss"),
}
FAULT_REASON = {"GroundFailure": "GroundFault", "OverCurrentFailure": "OvercurrentFault"}


def id_token(tag: str) -> dict[str, str]:
    return {"id_token": tag, "type": "ISO14443"}


def meter_value(conn: Connector, at: datetime, context: str) -> list[dict[str, Any]]:
    sampled: list[dict[str, Any]] = [
        {
            "value": conn.meter_wh,
            "context": context,
            "measurand": "Energy.Active.Import.Register",
            "unit_of_measure": {"unit": "Wh"},
        },
        {
            "value": conn.power_w,
            "context": context,
            "measurand": "Power.Active.Import",
            "unit_of_measure": {"unit": "W"},
        },
    ]
    if conn.battery is not None:
        sampled.append(
            {
                "value": conn.battery.soc_percent,
                "context": context,
                "measurand": "SoC",
                "location": "EV",
                "unit_of_measure": {"unit": "Percent"},
            }
        )
    return [{"timestamp": iso(at), "sampled_value": sampled}]


class V201Protocol:
    subprotocol = "ocpp2.0.1"

    def __init__(self, sim: ChargerSimulator) -> None:
        self.sim = sim
        self._sent_status: dict[int, str] = {}
        self._event_seq = 0

    def charge_point(self, ws: Any) -> V201ChargePoint:
        return V201ChargePoint(self.sim, ws)

    async def boot(self, reason: str) -> tuple[str, int]:
        sim = self.sim
        station = {
            "model": sim.model,
            "vendor_name": sim.vendor,
            "serial_number": sim.identity[:25],
            "firmware_version": sim.firmware_version,
        }
        result = await sim.call(call.BootNotification(charging_station=station, reason=reason))
        return result.status, int(result.interval)

    def heartbeat(self) -> Any:
        return call.Heartbeat()

    async def status(self, conn: Connector, force: bool = False) -> None:
        if conn.id == 0:
            return  # 2.0.1 reports per EVSE only
        status = CONNECTOR_STATUS.get(conn.status, "Occupied")
        if not force and self._sent_status.get(conn.id) == status:
            return
        sent = await self.sim.send_now(
            call.StatusNotification(
                timestamp=self.sim.clock.iso_now(),
                connector_status=status,
                evse_id=conn.id,
                connector_id=1,
            )
        )
        if sent is not None:
            self._sent_status[conn.id] = status

    async def authorize(self, tag: str) -> bool:
        try:
            result = await self.sim.call(call.Authorize(id_token=id_token(tag)))
        except LINK_ERRORS:
            return self.sim.config.get_bool("LocalAuthorizeOffline")
        return bool(result.id_token_info.get("status") == "Accepted")

    async def fault_reported(self, conn: Connector, error_code: str, info: str | None) -> None:
        """2.0.1's StatusNotification has no error code: the code goes in a NotifyEvent."""
        component: dict[str, Any] = {"name": "ChargingStation"}
        if conn.id:
            component = {"name": "Connector", "evse": {"id": conn.id, "connector_id": 1}}
        now = self.sim.clock.iso_now()
        event = {
            "event_id": self._event_seq + 1,
            "timestamp": now,
            "trigger": "Delta",
            "actual_value": "Faulted",
            "tech_code": error_code[:50],
            "tech_info": (info or "")[:500] or None,
            "event_notification_type": "HardWiredNotification",
            "component": component,
            "variable": {"name": "AvailabilityState"},
        }
        event = {k: v for k, v in event.items() if v is not None}
        await self.sim.send_now(
            call.NotifyEvent(generated_at=now, seq_no=self._event_seq, event_data=[event])
        )
        self._event_seq += 1

    def _event(
        self,
        conn: Connector,
        tx: Transaction,
        kind: str,
        trigger: str,
        at: datetime,
        info: dict[str, Any],
        **extra: Any,
    ) -> QueuedMessage:
        seq_no = tx.next_seq_no()  # taken now, so seqNo follows the order things happened

        def build(message: QueuedMessage) -> Any:
            return call.TransactionEvent(
                event_type=kind,
                timestamp=iso(at),
                trigger_reason=trigger,
                seq_no=seq_no,
                transaction_info={"transaction_id": tx.local_id, **info},
                offline=True if message.queued_offline else None,
                **extra,
            )

        return QueuedMessage("TransactionEvent", at, build, droppable=kind == "Updated")

    def started(self, conn: Connector, tx: Transaction) -> QueuedMessage:
        info: dict[str, Any] = {"charging_state": "Charging"}
        if tx.remote_start_id is not None:
            info["remote_start_id"] = tx.remote_start_id
        trigger = "RemoteStart" if tx.remote_start_id is not None else "Authorized"
        message = self._event(
            conn,
            tx,
            "Started",
            trigger,
            tx.started_at,
            info,
            id_token=id_token(tx.id_tag),
            evse={"id": conn.id, "connector_id": 1},
            meter_value=meter_value(conn, tx.started_at, "Transaction.Begin"),
        )

        def on_result(result: Any) -> None:
            token_info = getattr(result, "id_token_info", None) or {}
            tx.authorized = token_info.get("status", "Accepted") == "Accepted"

        message.on_result = on_result
        return message

    def meter(self, conn: Connector, tx: Transaction, at: datetime, context: str) -> QueuedMessage:
        info = {"charging_state": tx.charging_state}
        values = meter_value(conn, at, context)
        return self._event(conn, tx, "Updated", "MeterValuePeriodic", at, info, meter_value=values)

    def meter_now(self, conn: Connector) -> Any:
        return call.MeterValues(
            evse_id=conn.id, meter_value=meter_value(conn, self.sim.clock.now(), "Trigger")
        )

    def charging_state(self, conn: Connector, tx: Transaction, trigger: str) -> QueuedMessage:
        info = {"charging_state": tx.charging_state}
        return self._event(conn, tx, "Updated", trigger, self.sim.clock.now(), info)

    def ended(self, conn: Connector, tx: Transaction, reason: str, at: datetime) -> QueuedMessage:
        trigger, stopped = TRIGGER_FOR.get(reason, ("AbnormalCondition", "Other"))
        if reason == "Other":
            stopped = FAULT_REASON.get(conn.error_code, "Other")  # a fault ended it
        info = {
            "charging_state": "EVConnected"
            if conn.plugged and reason != "EVDisconnected"
            else "Idle",
            "stopped_reason": stopped,
        }
        values = meter_value(conn, at, "Transaction.End")
        return self._event(conn, tx, "Ended", trigger, at, info, meter_value=values)

    def firmware_status(self, status: str, request_id: int | None) -> Any:
        return call.FirmwareStatusNotification(status=status, request_id=request_id)

    def upload_status(self, status: str, request_id: int | None) -> Any:
        return call.LogStatusNotification(status=status, request_id=request_id)


class V201ChargePoint(V201Commands, ChargePoint):
    def __init__(self, sim: ChargerSimulator, ws: Any) -> None:
        super().__init__(sim.identity, ws, response_timeout=sim.response_timeout)
        self._attach(sim)
