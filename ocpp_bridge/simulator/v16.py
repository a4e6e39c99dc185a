"""OCPP 1.6J: the messages the simulated charger sends and the commands it answers."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

from ocpp_bridge.simulator.base import LINK_ERRORS
from ocpp_bridge.simulator.clock import iso, parse_iso
from ocpp_bridge.simulator.handlers import HandlerSupport
from ocpp_bridge.simulator.model import Connector, Transaction
from ocpp_bridge.simulator.queue import QueuedMessage

if TYPE_CHECKING:
    from ocpp_bridge.simulator.simulator import ChargerSimulator


def sampled_values(conn: Connector, context: str, measurands: str) -> list[dict[str, Any]]:
    wanted = set(measurands.split(","))
    values = [
        ("Energy.Active.Import.Register", str(conn.meter_wh), "Wh", None),
        ("Power.Active.Import", str(conn.power_w), "W", None),
    ]
    if conn.battery is not None:
        values.append(("SoC", str(conn.battery.soc_percent), "Percent", "EV"))
    out = []
    for measurand, value, unit, location in values:
        if measurand in wanted or measurand == "Energy.Active.Import.Register":
            item = {"value": value, "context": context, "measurand": measurand, "unit": unit}
            if location:
                item["location"] = location
            out.append(item)
    return out


class V16Protocol:
    subprotocol = "ocpp1.6"

    def __init__(self, sim: ChargerSimulator) -> None:
        self.sim = sim

    def charge_point(self, ws: Any) -> V16ChargePoint:
        return V16ChargePoint(self.sim, ws)

    def _meter_value(self, conn: Connector, at: datetime, context: str) -> list[dict[str, Any]]:
        measurands = self.sim.config.get("MeterValuesSampledData")
        sampled = sampled_values(conn, context, measurands.value if measurands else "")
        return [{"timestamp": iso(at), "sampled_value": sampled}]

    async def boot(self, reason: str) -> tuple[str, int]:
        sim = self.sim
        result = await sim.call(
            call.BootNotification(
                charge_point_model=sim.model,
                charge_point_vendor=sim.vendor,
                charge_point_serial_number=sim.identity[:25],
                firmware_version=sim.firmware_version,
            )
        )
        return result.status, int(result.interval)

    def heartbeat(self) -> Any:
        return call.Heartbeat()

    async def status(self, conn: Connector, force: bool = False) -> None:
        await self.sim.send_now(
            call.StatusNotification(
                connector_id=conn.id,
                error_code=conn.error_code,
                status=conn.status,
                timestamp=self.sim.clock.iso_now(),
            )
        )

    async def authorize(self, id_tag: str) -> bool:
        try:
            result = await self.sim.call(call.Authorize(id_tag=id_tag))
        except LINK_ERRORS:
            return self.sim.config.get_bool("LocalAuthorizeOffline")
        return bool(result.id_tag_info.get("status") == "Accepted")

    async def fault_reported(self, conn: Connector, error_code: str, info: str | None) -> None:
        """1.6 carries the error code in the StatusNotification already."""

    def started(self, conn: Connector, tx: Transaction) -> QueuedMessage:
        payload = call.StartTransaction(
            connector_id=conn.id,
            id_tag=tx.id_tag,
            meter_start=tx.meter_start_wh,
            timestamp=iso(tx.started_at),
        )

        def on_result(result: Any) -> None:
            if result is not None:
                tx.remote_id = result.transaction_id
                tx.authorized = result.id_tag_info.get("status") == "Accepted"

        return QueuedMessage("StartTransaction", tx.started_at, lambda _: payload, on_result)

    def meter(self, conn: Connector, tx: Transaction, at: datetime, context: str) -> QueuedMessage:
        meter_value = self._meter_value(conn, at, context)  # the values of now, sent later

        def build(_: QueuedMessage) -> Any:
            if tx.remote_id is None:
                return None  # the start never got a transaction id: nothing to attach to
            return call.MeterValues(conn.id, meter_value, transaction_id=tx.remote_id)

        return QueuedMessage("MeterValues", at, build, droppable=True)

    def meter_now(self, conn: Connector) -> Any:
        tx = conn.transaction
        meter_value = self._meter_value(conn, self.sim.clock.now(), "Trigger")
        return call.MeterValues(conn.id, meter_value, transaction_id=tx.remote_id if tx else None)

    def charging_state(self, conn: Connector, tx: Transaction, trigger: str) -> None:
        """1.6 reports a charging state change with StatusNotification alone."""
        return None

    def ended(self, conn: Connector, tx: Transaction, reason: str, at: datetime) -> QueuedMessage:
        meter_stop = conn.meter_wh
        data = self._meter_value(conn, at, "Transaction.End")

        def build(_: QueuedMessage) -> Any:
            if tx.remote_id is None:
                return None
            return call.StopTransaction(
                meter_stop=meter_stop,
                timestamp=iso(at),
                transaction_id=tx.remote_id,
                reason=reason,
                id_tag=tx.id_tag,
                transaction_data=data,
            )

        return QueuedMessage("StopTransaction", at, build)

    def firmware_status(self, status: str, request_id: int | None) -> Any:
        return call.FirmwareStatusNotification(status=status)

    def upload_status(self, status: str, request_id: int | None) -> Any:
        return call.DiagnosticsStatusNotification(status=status)


class V16ChargePoint(HandlerSupport, ChargePoint):
    def __init__(self, sim: ChargerSimulator, ws: Any) -> None:
        super().__init__(sim.identity, ws, response_timeout=sim.response_timeout)
        self._attach(sim)

    @on(Action.remote_start_transaction)
    def on_remote_start(self, id_tag: str, connector_id: int | None = None, **kw: Any) -> Any:
        sim, request = self.sim, {"id_tag": id_tag, "connector_id": connector_id, **kw}
        conn = sim.remote_start_target(connector_id)
        if conn is None:
            status = call_result.RemoteStartTransaction(status="Rejected")
            return self.answer("RemoteStartTransaction", request, status)
        authorize = sim.config.get_bool("AuthorizeRemoteTxRequests")
        return self.answer(
            "RemoteStartTransaction",
            request,
            call_result.RemoteStartTransaction(status="Accepted"),
            lambda: sim.start_session(conn.id, id_tag, authorize=authorize),
        )

    @on(Action.remote_stop_transaction)
    def on_remote_stop(self, transaction_id: int) -> Any:
        conn = self.sim.find_session(transaction_id)
        status = "Accepted" if conn is not None else "Rejected"
        then = (lambda: self.sim.remote_stop(conn.id)) if conn is not None else None
        return self.answer(
            "RemoteStopTransaction",
            {"transaction_id": transaction_id},
            call_result.RemoteStopTransaction(status=status),
            then,
        )

    @on(Action.reset)
    def on_reset(self, type: str) -> Any:
        return self.answer(
            "Reset",
            {"type": type},
            call_result.Reset(status="Accepted"),
            lambda: self.sim.reset(type),
        )

    @on(Action.unlock_connector)
    def on_unlock(self, connector_id: int) -> Any:
        known = connector_id in self.sim.connectors
        return self.answer(
            "UnlockConnector",
            {"connector_id": connector_id},
            call_result.UnlockConnector(status="Unlocked" if known else "NotSupported"),
            (lambda: self.sim.unlock(connector_id)) if known else None,
        )

    @on(Action.change_availability)
    def on_change_availability(self, connector_id: int, type: str) -> Any:
        status, changed = self.sim.change_availability(connector_id, type == "Operative")
        return self.answer(
            "ChangeAvailability",
            {"connector_id": connector_id, "type": type},
            call_result.ChangeAvailability(status=status),
            (lambda: self.sim.send_statuses(changed)) if changed else None,
        )

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None) -> Any:
        store = self.sim.config
        names = key or [s.key for s in store]
        known = [store.get(k) for k in names if store.get(k) is not None]
        result = call_result.GetConfiguration(
            configuration_key=[
                {"key": s.key, "readonly": s.readonly, "value": s.value} for s in known if s
            ],
            unknown_key=[k for k in names if store.get(k) is None] or None,
        )
        return self.answer("GetConfiguration", {"key": key}, result)

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str) -> Any:
        setting = self.sim.config.get(key)
        status = "NotSupported" if setting is None else self.sim.config.change(setting, value)
        return self.answer(
            "ChangeConfiguration",
            {"key": key, "value": value},
            call_result.ChangeConfiguration(status=status),
        )

    @on(Action.trigger_message)
    def on_trigger(self, requested_message: str, connector_id: int | None = None) -> Any:
        known = requested_message in self.sim.TRIGGERS and requested_message not in (
            "LogStatusNotification",
            "TransactionEvent",
        )
        if connector_id and connector_id not in self.sim.connectors:
            known = False
        return self.answer(
            "TriggerMessage",
            {"requested_message": requested_message, "connector_id": connector_id},
            call_result.TriggerMessage(status="Accepted" if known else "Rejected"),
            (lambda: self.sim.trigger(requested_message, connector_id)) if known else None,
        )

    @on(Action.update_firmware)
    def on_update_firmware(self, location: str, retrieve_date: str, **kw: Any) -> Any:
        at = parse_iso(retrieve_date)
        return self.answer(
            "UpdateFirmware",
            {"location": location, "retrieve_date": retrieve_date, **kw},
            call_result.UpdateFirmware(),
            lambda: self.sim.update_firmware(location, at),
        )

    @on(Action.get_diagnostics)
    def on_get_diagnostics(self, location: str, **kw: Any) -> Any:
        name = f"{self.sim.identity}-diagnostics.log"
        return self.answer(
            "GetDiagnostics",
            {"location": location, **kw},
            call_result.GetDiagnostics(file_name=name),
            lambda: self.sim.upload_diagnostics(),
        )
