"""Charger-gateway commands as OCPP 2.0.1 calls.

1.6 configuration keys become 2.0.1 device-model variables: the usual keys map onto
their 2.0.1 component/variable; any other key may be written "Component/Variable"
(e.g. "OCPPCommCtrlr/HeartbeatInterval"). GetDiagnostics becomes GetLog.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict
from typing import Any, Protocol

from ocpp.v201 import call

from backend.services import charger_gateway as gw

# 1.6 key → (2.0.1 component, variable), OCPP 2.0.1 Part 2 Appendix 3.
VARIABLES = {
    "HeartbeatInterval": ("OCPPCommCtrlr", "HeartbeatInterval"),
    "MeterValueSampleInterval": ("SampledDataCtrlr", "TxUpdatedInterval"),
    "MeterValuesSampledData": ("SampledDataCtrlr", "TxUpdatedMeasurands"),
    "ClockAlignedDataInterval": ("AlignedDataCtrlr", "Interval"),
    "ConnectionTimeOut": ("TxCtrlr", "EVConnectionTimeOut"),
    "StopTransactionOnEVSideDisconnect": ("TxCtrlr", "StopTxOnEVSideDisconnect"),
    "LocalAuthorizeOffline": ("AuthCtrlr", "LocalAuthorizeOffline"),
    "AuthorizeRemoteTxRequests": ("AuthCtrlr", "AuthorizeRemoteStart"),
    "WebSocketPingInterval": ("OCPPCommCtrlr", "WebSocketPingInterval"),
    "ResetRetries": ("OCPPCommCtrlr", "ResetRetries"),
    "TransactionMessageAttempts": ("OCPPCommCtrlr", "MessageAttempts"),
    "TransactionMessageRetryInterval": ("OCPPCommCtrlr", "MessageAttemptInterval"),
}
TRIGGERS = {"DiagnosticsStatusNotification": "LogStatusNotification"}
# requestId / remoteStartId only need to be unique per charger for a while.
_ids = itertools.count(int(time.time()) % 1_000_000 * 1000)


class Caller(Protocol):
    identity: str

    async def ask(self, payload: Any) -> Any: ...


def component_variable(key: str) -> dict[str, Any]:
    component, variable = VARIABLES.get(key) or [*key.split("/", 1), ""][:2]
    if not variable:
        raise ValueError(f"{key!r}: give a 1.6 key we map, or 'Component/Variable'.")
    return {"component": {"name": component}, "variable": {"name": variable}}


def _data(answer: Any) -> dict[str, Any]:
    return {k: v for k, v in asdict(answer).items() if v is not None}


def _result(answer: Any) -> gw.CommandResult:
    data = _data(answer)
    return gw.CommandResult(str(data.pop("status", "Accepted")), data)


async def execute(cp: Caller, command: gw.Command) -> gw.CommandResult:
    try:
        return await _execute(cp, command)
    except ValueError as exc:  # a request we cannot express in 2.0.1
        raise gw.CommandRejected(cp.identity, str(exc)) from exc


async def _execute(cp: Caller, command: gw.Command) -> gw.CommandResult:
    match command:
        case gw.RemoteStart(connector_id=connector, id_tag=tag):
            kind = "Central" if tag.upper().startswith("APP-") else "ISO14443"
            return _result(
                await cp.ask(
                    call.RequestStartTransaction(
                        id_token={"id_token": tag, "type": kind},
                        remote_start_id=next(_ids),
                        evse_id=connector or None,
                    )
                )
            )
        case gw.RemoteStop(transaction_id=tx):
            return _result(await cp.ask(call.RequestStopTransaction(transaction_id=tx)))
        case gw.Reset(hard=hard):
            return _result(await cp.ask(call.Reset(type="Immediate" if hard else "OnIdle")))
        case gw.UnlockConnector(connector_id=connector):
            return _result(await cp.ask(call.UnlockConnector(evse_id=connector, connector_id=1)))
        case gw.ChangeAvailability(connector_id=connector, operative=operative):
            return _result(
                await cp.ask(
                    call.ChangeAvailability(
                        operational_status="Operative" if operative else "Inoperative",
                        evse={"id": connector} if connector else None,
                    )
                )
            )
        case gw.GetConfiguration(keys=keys):
            return await _get_variables(cp, keys)
        case gw.ChangeConfiguration(key=key, value=value):
            answer = await cp.ask(
                call.SetVariables(
                    set_variable_data=[{"attribute_value": value, **component_variable(key)}]
                )
            )
            results = _data(answer)["set_variable_result"]
            return gw.CommandResult(str(results[0]["attribute_status"]), {"results": results})
        case gw.TriggerMessage(message=message, connector_id=connector):
            return _result(
                await cp.ask(
                    call.TriggerMessage(
                        requested_message=TRIGGERS.get(message, message),
                        evse={"id": connector} if connector else None,
                    )
                )
            )
        case gw.UpdateFirmware():
            firmware = {
                "location": command.location,
                "retrieve_date_time": command.retrieve_at.isoformat().replace("+00:00", "Z"),
            }
            return _result(
                await cp.ask(
                    call.UpdateFirmware(
                        request_id=command.request_id or next(_ids),
                        firmware=firmware,
                        retries=command.retries,
                        retry_interval=command.retry_interval_s,
                    )
                )
            )
        case gw.GetDiagnostics(location=location):
            return _result(
                await cp.ask(
                    call.GetLog(
                        log={"remote_location": location},
                        log_type="DiagnosticsLog",
                        request_id=next(_ids),
                    )
                )
            )
    raise gw.CommandRejected(cp.identity, f"{type(command).__name__} is not a 2.0.1 command.")


async def _get_variables(cp: Caller, keys: tuple[str, ...]) -> gw.CommandResult:
    """GetConfiguration as GetVariables; the answer keeps 1.6's shape too
    (configuration_key / unknown_key) so callers need not know the version."""
    if not keys:
        return gw.CommandResult(
            "NotSupported", {"reason": "2.0.1 reads named variables; list the keys wanted."}
        )
    answer = await cp.ask(
        call.GetVariables(get_variable_data=[component_variable(k) for k in keys])
    )
    results = _data(answer)["get_variable_result"]
    known, unknown = [], []
    for key, result in zip(keys, results, strict=False):
        if result.get("attribute_status") == "Accepted":
            known.append({"key": key, "value": result.get("attribute_value"), "readonly": False})
        else:
            unknown.append(key)
    return gw.CommandResult(
        "Accepted", {"configuration_key": known, "unknown_key": unknown, "results": results}
    )
