"""OCPP 2.0.1 commands the simulated charger answers (see handlers.py for the pattern)."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v201 import call_result

from ocpp_bridge.simulator.clock import parse_iso
from ocpp_bridge.simulator.handlers import HandlerSupport


class V201Commands(HandlerSupport):
    @on("RequestStartTransaction")
    def on_request_start(
        self, id_token: dict[str, Any], remote_start_id: int, evse_id: int | None = None, **kw: Any
    ) -> Any:
        sim = self.sim
        request = {"id_token": id_token, "remote_start_id": remote_start_id, "evse_id": evse_id}
        conn = sim.remote_start_target(evse_id)
        if conn is None:
            return self.answer(
                "RequestStartTransaction",
                request,
                call_result.RequestStartTransaction(status="Rejected"),
            )
        authorize = sim.config.get_bool("AuthorizeRemoteTxRequests")
        return self.answer(
            "RequestStartTransaction",
            request,
            call_result.RequestStartTransaction(status="Accepted"),
            lambda: sim.start_session(
                conn.id, id_token["id_token"], remote_start_id=remote_start_id, authorize=authorize
            ),
        )

    @on("RequestStopTransaction")
    def on_request_stop(self, transaction_id: str, **kw: Any) -> Any:
        conn = self.sim.find_session(transaction_id)
        return self.answer(
            "RequestStopTransaction",
            {"transaction_id": transaction_id},
            call_result.RequestStopTransaction(status="Accepted" if conn else "Rejected"),
            (lambda: self.sim.remote_stop(conn.id)) if conn is not None else None,
        )

    @on("Reset")
    def on_reset(self, type: str, evse_id: int | None = None, **kw: Any) -> Any:
        request = {"type": type, "evse_id": evse_id}
        if evse_id:
            return self.answer("Reset", request, call_result.Reset(status="Rejected"))
        if type == "OnIdle" and self.sim.reset_when_idle("Soft"):
            return self.answer("Reset", request, call_result.Reset(status="Scheduled"))
        return self.answer(
            "Reset", request, call_result.Reset(status="Accepted"), lambda: self.sim.reset("Hard")
        )

    @on("UnlockConnector")
    def on_unlock(self, evse_id: int, connector_id: int, **kw: Any) -> Any:
        request = {"evse_id": evse_id, "connector_id": connector_id}
        conn = self.sim.connectors.get(evse_id)
        if conn is None or connector_id != 1:
            status = "UnknownConnector"
        elif conn.transaction is not None and conn.transaction.authorized:
            status = "OngoingAuthorizedTransaction"
        else:
            status = "Unlocked"
        return self.answer("UnlockConnector", request, call_result.UnlockConnector(status=status))

    @on("ChangeAvailability")
    def on_change_availability(
        self, operational_status: str, evse: dict[str, Any] | None = None, **kw: Any
    ) -> Any:
        evse_id = int((evse or {}).get("id", 0))
        status, changed = self.sim.change_availability(evse_id, operational_status == "Operative")
        return self.answer(
            "ChangeAvailability",
            {"operational_status": operational_status, "evse": evse},
            call_result.ChangeAvailability(status=status),
            (lambda: self.sim.send_statuses(changed)) if changed else None,
        )

    @on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **kw: Any) -> Any:
        results = []
        for item in get_variable_data:
            component, variable = item["component"], item["variable"]
            setting = self.sim.config.get_variable(component["name"], variable["name"])
            result: dict[str, Any] = {"component": component, "variable": variable}
            if setting is not None:
                result.update(attribute_status="Accepted", attribute_value=setting.value)
            elif self.sim.config.knows_component(component["name"]):
                result["attribute_status"] = "UnknownVariable"
            else:
                result["attribute_status"] = "UnknownComponent"
            results.append(result)
        return self.answer(
            "GetVariables",
            {"get_variable_data": get_variable_data},
            call_result.GetVariables(get_variable_result=results),
        )

    @on("SetVariables")
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **kw: Any) -> Any:
        results = []
        for item in set_variable_data:
            component, variable = item["component"], item["variable"]
            setting = self.sim.config.get_variable(component["name"], variable["name"])
            if setting is not None:
                status = self.sim.config.change(setting, str(item["attribute_value"]))
            elif self.sim.config.knows_component(component["name"]):
                status = "UnknownVariable"
            else:
                status = "UnknownComponent"
            results.append(
                {"attribute_status": status, "component": component, "variable": variable}
            )
        return self.answer(
            "SetVariables",
            {"set_variable_data": set_variable_data},
            call_result.SetVariables(set_variable_result=results),
        )

    @on("TriggerMessage")
    def on_trigger(
        self, requested_message: str, evse: dict[str, Any] | None = None, **kw: Any
    ) -> Any:
        evse_id = int((evse or {}).get("id", 0)) or None
        known = requested_message in self.sim.TRIGGERS and requested_message != (
            "DiagnosticsStatusNotification"
        )
        if evse_id is not None and evse_id not in self.sim.connectors:
            known = False
        return self.answer(
            "TriggerMessage",
            {"requested_message": requested_message, "evse": evse},
            call_result.TriggerMessage(status="Accepted" if known else "NotImplemented"),
            (lambda: self.sim.trigger(requested_message, evse_id)) if known else None,
        )

    @on("UpdateFirmware")
    def on_update_firmware(self, request_id: int, firmware: dict[str, Any], **kw: Any) -> Any:
        location = firmware["location"]
        at = parse_iso(firmware.get("retrieve_date_time"))
        return self.answer(
            "UpdateFirmware",
            {"request_id": request_id, "firmware": firmware},
            call_result.UpdateFirmware(status="Accepted"),
            lambda: self.sim.update_firmware(location, at, request_id),
        )

    @on("GetLog")
    def on_get_log(self, log: dict[str, Any], log_type: str, request_id: int, **kw: Any) -> Any:
        return self.answer(
            "GetLog",
            {"log": log, "log_type": log_type, "request_id": request_id},
            call_result.GetLog(status="Accepted", filename=f"{self.sim.identity}-{log_type}.log"),
            lambda: self.sim.upload_diagnostics(request_id),
        )
