"""OCPP 2.0.1: the CSMS side of a charging-station connection.

Same journeys as 1.6, in 2.0.1's shape: one TransactionEvent (Started / Updated / Ended,
numbered by seqNo) instead of Start/MeterValues/Stop, and an EVSE id where 1.6 has a
connector id (we store the EVSE id as the session's connector: one connector per EVSE,
as on the chargers we run). Commands are in `v201_commands`.
"""

from __future__ import annotations

import logging
from typing import Any

from ocpp.routing import on
from ocpp.v201 import ChargePoint as V201ChargePoint
from ocpp.v201 import call_result
from ocpp.v201.enums import Action

from backend.services import charger_gateway as gw
from backend.services.charger_state import BootIn, StatusIn
from backend.services.session_batch import MeterOutcome, MeterReport
from backend.services.session_events import UpdateIn
from backend.services.session_meters import SampleIn
from backend.services.session_stop import StopIn
from backend.services.sessions import StartIn
from ocpp_bridge import v201_commands
from ocpp_bridge.protocol import BridgeConnection

log = logging.getLogger(__name__)

# 2.0.1 words as the 1.6 words the rest of the platform speaks (events.py contract).
CONNECTOR_STATUS = {"Occupied": "Preparing"}
CHARGING_STATE = {
    "Charging": "Charging",
    "SuspendedEV": "SuspendedEV",
    "SuspendedEVSE": "SuspendedEVSE",
    "EVConnected": "Preparing",
}
UNPLUG_TRIGGERS = {"EVDeparted", "EVCommunicationLost"}


def samples_of(meter_value: list[dict[str, Any]] | None) -> tuple[SampleIn, ...]:
    samples = []
    for mv in meter_value or []:
        for sv in mv.get("sampled_value", []):
            unit = sv.get("unit_of_measure") or {}
            samples.append(
                SampleIn(
                    reported_at=mv.get("timestamp"),
                    # JSON numbers arrive as floats; repr() is the shortest text that
                    # reads back the same, so no binary noise reaches the Decimal.
                    value=repr(sv.get("value")),
                    measurand=sv.get("measurand") or "Energy.Active.Import.Register",
                    unit=unit.get("unit") or "Wh",
                    multiplier=int(unit.get("multiplier") or 0),
                    phase=sv.get("phase") or "",
                    location=sv.get("location") or "Outlet",
                    context=sv.get("context") or "Sample.Periodic",
                )
            )
    return tuple(samples)


def _token(id_token: dict[str, Any] | None) -> str | None:
    if not id_token or id_token.get("type") == "NoAuthorization":
        return None
    return str(id_token.get("id_token") or "") or None


class V201Connection(BridgeConnection, V201ChargePoint):  # type: ignore[misc]
    ocpp_version = "2.0.1"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tx_connectors: dict[str, int] = {}

    @on(Action.boot_notification)
    async def on_boot_notification(
        self, charging_station: dict[str, Any], reason: str, **kw: Any
    ) -> call_result.BootNotification:
        info = BootIn(
            vendor=charging_station.get("vendor_name", ""),
            model=charging_station.get("model", ""),
            serial_number=charging_station.get("serial_number") or "",
            firmware_version=charging_station.get("firmware_version") or "",
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
        self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **kw: Any
    ) -> call_result.StatusNotification:
        status = CONNECTOR_STATUS.get(connector_status, connector_status)
        await self.core.status(self, StatusIn(evse_id, status, "", timestamp))
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_token: dict[str, Any], **kw: Any) -> call_result.Authorize:
        self.require_accepted()
        tag = _token(id_token)
        status = (await self.core.authorize(self, tag)).status if tag else "Invalid"
        return call_result.Authorize(id_token_info={"status": status})

    @on(Action.transaction_event)
    async def on_transaction_event(
        self,
        event_type: str,
        timestamp: str,
        trigger_reason: str,
        seq_no: int,
        transaction_info: dict[str, Any],
        **kw: Any,
    ) -> call_result.TransactionEvent:
        tx = transaction_info["transaction_id"]
        evse = kw.get("evse") or {}
        tag = _token(kw.get("id_token"))
        samples = samples_of(kw.get("meter_value"))
        state = CHARGING_STATE.get(transaction_info.get("charging_state") or "")
        stopped = transaction_info.get("stopped_reason")
        unplugged = trigger_reason in UNPLUG_TRIGGERS or stopped == "EVDisconnected"
        # The EVSE is only required in a transaction's first event; remember it.
        connector = int(evse.get("id") or 0) or self._tx_connectors.get(tx, 0)
        status = None
        if event_type == "Started":
            self.require_accepted()
            connector = connector or 1
            self._remember(tx, connector)
            start = StartIn(connector, tag or "", timestamp, None, tx, samples, seq_no, state)
            outcome = await self.core.start_transaction(self, start)
            status = outcome.authorization.status if tag else None
            if unplugged:  # plugged in and gone within one event
                await self.core.update(self, UpdateIn(tx, connector, timestamp, unplugged=True))
        elif event_type == "Ended":
            self._tx_connectors.pop(tx, None)
            stop = StopIn(
                timestamp=timestamp,
                meter_stop=None,  # the last register reading stands for it
                reason=stopped or "Local",
                charger_transaction_id=tx,
                id_tag=tag,
                samples=samples,
                seq_no=seq_no,
                unplugged=unplugged,
            )
            await self.core.stop(self, stop)
            status = "Accepted" if tag else None
        else:
            update = UpdateIn(tx, connector or 1, timestamp, tag, samples, seq_no, state, unplugged)
            status = await self._updated(update, connector)
        if status is None:
            return call_result.TransactionEvent()
        return call_result.TransactionEvent(id_token_info={"status": status})

    async def _updated(self, update: UpdateIn, connector: int) -> str | None:
        """The meter stream goes through the group-commit writer; an idToken or a
        transaction we have not seen yet take the direct path."""
        if update.id_tag:
            outcome = await self.core.update(self, update)
            return outcome.authorization.status if outcome.authorization else None
        state = update.status
        if state is not None and connector:
            # Also the connector's status (and the status_changed event) when we know it.
            await self.core.status(self, StatusIn(connector, state, "", update.timestamp))
            state = None
        report = MeterReport(
            self.ref,
            connector,
            update.samples,
            charger_transaction_id=update.charger_transaction_id,
            seq_no=update.seq_no,
            status=state,
            unplugged=update.unplugged,
            event_time=update.timestamp,
        )
        if await self.core.meter(report) == MeterOutcome.UNKNOWN_TRANSACTION:
            await self.core.update(self, update)
        return None

    def _remember(self, tx: str, connector: int) -> None:
        if len(self._tx_connectors) > 64:  # a charger has a few EVSEs, not hundreds
            self._tx_connectors.pop(next(iter(self._tx_connectors)))
        self._tx_connectors[tx] = connector

    @on(Action.meter_values)
    async def on_meter_values(
        self, evse_id: int, meter_value: list[dict[str, Any]], **kw: Any
    ) -> call_result.MeterValues:
        await self.core.meter(MeterReport(self.ref, evse_id, samples_of(meter_value)))
        return call_result.MeterValues()

    @on(Action.firmware_status_notification)
    async def on_firmware_status(
        self, status: str, **kw: Any
    ) -> call_result.FirmwareStatusNotification:
        await self.core.firmware_status(self, status, kw.get("request_id"))
        return call_result.FirmwareStatusNotification()

    @on(Action.log_status_notification)
    async def on_log_status(self, status: str, **kw: Any) -> call_result.LogStatusNotification:
        log.info("%s: log upload %s", self.identity, status)
        return call_result.LogStatusNotification()

    @on(Action.security_event_notification)
    async def on_security_event(self, **kw: Any) -> call_result.SecurityEventNotification:
        log.info("%s: security event %s", self.identity, kw.get("type"))
        return call_result.SecurityEventNotification()

    @on(Action.notify_event)
    async def on_notify_event(self, **kw: Any) -> call_result.NotifyEvent:
        return call_result.NotifyEvent()

    @on(Action.notify_report)
    async def on_notify_report(self, **kw: Any) -> call_result.NotifyReport:
        return call_result.NotifyReport()

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **kw: Any) -> call_result.DataTransfer:
        log.info("%s: DataTransfer from vendor %s ignored", self.identity, vendor_id)
        return call_result.DataTransfer(status="UnknownVendorId")

    async def _execute(self, command: gw.Command) -> gw.CommandResult:
        return await v201_commands.execute(self, command)
