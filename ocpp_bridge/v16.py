"""OCPP 1.6J: the central system's side of a charger connection.

Handlers only translate: payload → a `backend.services` dataclass → `BridgeCore` → the
answer. Commands (`execute`) map the charger-gateway commands onto 1.6 calls. Never
`await self.call(...)` inside an @on handler: the receive loop is blocked until it
returns, so the answer could never be read.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint as V16ChargePoint
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from backend.services import charger_gateway as gw
from backend.services.charger_state import BootIn, StatusIn
from backend.services.session_batch import MeterReport
from backend.services.session_meters import SampleIn
from backend.services.session_stop import StopIn
from backend.services.sessions import StartIn
from ocpp_bridge.protocol import BridgeConnection

log = logging.getLogger(__name__)


def samples_of(meter_value: list[dict[str, Any]] | None) -> tuple[SampleIn, ...]:
    """1.6 MeterValue list → samples, with the spec's defaults filled in (so a replay,
    with or without the defaults spelled out, is the same sample)."""
    samples = []
    for mv in meter_value or []:
        for sv in mv.get("sampled_value", []):
            if sv.get("format") == "SignedData":
                continue  # a signed blob, not a number (kept by the charger for audits)
            samples.append(
                SampleIn(
                    reported_at=mv.get("timestamp"),
                    value=str(sv.get("value", "")),
                    measurand=sv.get("measurand") or "Energy.Active.Import.Register",
                    unit=sv.get("unit") or "Wh",
                    phase=sv.get("phase") or "",
                    location=sv.get("location") or "Outlet",
                    context=sv.get("context") or "Sample.Periodic",
                )
            )
    return tuple(samples)


class V16Connection(BridgeConnection, V16ChargePoint):  # type: ignore[misc]
    ocpp_version = "1.6"

    @on(Action.boot_notification)
    async def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **kw: Any
    ) -> call_result.BootNotification:
        info = BootIn(
            vendor=charge_point_vendor,
            model=charge_point_model,
            serial_number=kw.get("charge_point_serial_number")
            or kw.get("charge_box_serial_number")
            or "",
            firmware_version=kw.get("firmware_version") or "",
        )
        status = await self.core.boot(self, info)
        accepted = status == "Accepted"
        interval = self.settings.heartbeat_interval_s if accepted else self.settings.boot_retry_s
        return call_result.BootNotification(
            current_time=self.now_text(), interval=interval, status=status
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self, **kw: Any) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=self.now_text())

    @on(Action.status_notification)
    async def on_status_notification(
        self, connector_id: int, error_code: str, status: str, **kw: Any
    ) -> call_result.StatusNotification:
        await self.core.status(
            self, StatusIn(connector_id, status, error_code, kw.get("timestamp"))
        )
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str, **kw: Any) -> call_result.Authorize:
        self.require_accepted()
        auth = await self.core.authorize(self, id_tag)
        return call_result.Authorize(id_tag_info={"status": auth.status})

    @on(Action.start_transaction)
    async def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **kw: Any
    ) -> call_result.StartTransaction:
        self.require_accepted()
        outcome = await self.core.start_transaction(
            self, StartIn(connector_id, id_tag, timestamp, meter_start)
        )
        return call_result.StartTransaction(
            transaction_id=outcome.ocpp_transaction_id,
            id_tag_info={"status": outcome.authorization.status or "Invalid"},
        )

    @on(Action.meter_values)
    async def on_meter_values(
        self, connector_id: int, meter_value: list[dict[str, Any]], **kw: Any
    ) -> call_result.MeterValues:
        report = MeterReport(
            charger=self.ref,
            connector_id=connector_id,
            samples=samples_of(meter_value),
            ocpp_transaction_id=kw.get("transaction_id"),
        )
        # Answered only once stored: the writer resolves after its batch commits.
        await self.core.meter(report)
        return call_result.MeterValues()

    @on(Action.stop_transaction)
    async def on_stop_transaction(
        self, meter_stop: int, timestamp: str, transaction_id: int, **kw: Any
    ) -> call_result.StopTransaction:
        reason = kw.get("reason") or "Local"
        stop = StopIn(
            timestamp=timestamp,
            meter_stop=meter_stop,
            reason=reason,
            ocpp_transaction_id=transaction_id,
            id_tag=kw.get("id_tag"),
            samples=samples_of(kw.get("transaction_data")),
            unplugged=reason == "EVDisconnected",
        )
        await self.core.stop(self, stop)
        if kw.get("id_tag"):
            return call_result.StopTransaction(id_tag_info={"status": "Accepted"})
        return call_result.StopTransaction()

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **kw: Any) -> call_result.DataTransfer:
        log.info("%s: DataTransfer from vendor %s ignored", self.identity, vendor_id)
        return call_result.DataTransfer(status="UnknownVendorId")

    @on(Action.firmware_status_notification)
    async def on_firmware_status(
        self, status: str, **kw: Any
    ) -> call_result.FirmwareStatusNotification:
        await self.core.firmware_status(self, status, None)
        return call_result.FirmwareStatusNotification()

    @on(Action.diagnostics_status_notification)
    async def on_diagnostics_status(
        self, status: str, **kw: Any
    ) -> call_result.DiagnosticsStatusNotification:
        log.info("%s: diagnostics upload %s", self.identity, status)
        return call_result.DiagnosticsStatusNotification()

    # --- commands -----------------------------------------------------------------

    async def _execute(self, command: gw.Command) -> gw.CommandResult:
        match command:
            case gw.RemoteStart(connector_id=connector, id_tag=tag):
                answer = await self.ask(
                    call.RemoteStartTransaction(id_tag=tag, connector_id=connector)
                )
            case gw.RemoteStop(transaction_id=tx):
                if not tx.isdigit():
                    raise gw.CommandRejected(self.identity, f"{tx!r} is not a 1.6 transaction id.")
                answer = await self.ask(call.RemoteStopTransaction(transaction_id=int(tx)))
            case gw.Reset(hard=hard):
                answer = await self.ask(call.Reset(type="Hard" if hard else "Soft"))
            case gw.UnlockConnector(connector_id=connector):
                answer = await self.ask(call.UnlockConnector(connector_id=connector))
            case gw.ChangeAvailability(connector_id=connector, operative=operative):
                kind = "Operative" if operative else "Inoperative"
                answer = await self.ask(call.ChangeAvailability(connector_id=connector, type=kind))
            case gw.GetConfiguration(keys=keys):
                answer = await self.ask(call.GetConfiguration(key=list(keys) or None))
                return gw.CommandResult("Accepted", _data(answer))
            case gw.ChangeConfiguration(key=key, value=value):
                answer = await self.ask(call.ChangeConfiguration(key=key, value=value))
            case gw.TriggerMessage(message=message, connector_id=connector):
                answer = await self.ask(
                    call.TriggerMessage(requested_message=message, connector_id=connector)
                )
            case gw.UpdateFirmware():
                answer = await self.ask(
                    call.UpdateFirmware(
                        location=command.location,
                        retrieve_date=command.retrieve_at.isoformat().replace("+00:00", "Z"),
                        retries=command.retries,
                        retry_interval=command.retry_interval_s,
                    )
                )
                return gw.CommandResult("Accepted", _data(answer))  # 1.6 answers no status
            case gw.GetDiagnostics(location=location):
                answer = await self.ask(call.GetDiagnostics(location=location))
                return gw.CommandResult("Accepted", _data(answer))
            case _:
                raise gw.CommandRejected(self.identity, f"{type(command).__name__} not in 1.6")
        data = _data(answer)
        return gw.CommandResult(str(data.pop("status", "Accepted")), data)


def _data(answer: Any) -> dict[str, Any]:
    return {k: v for k, v in asdict(answer).items() if v is not None}
