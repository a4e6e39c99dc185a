"""The charger's small configuration store, seen as 1.6 keys or 2.0.1 variables.

One value behind both names, e.g. 1.6 `HeartbeatInterval` is 2.0.1
`OCPPCommCtrlr.HeartbeatInterval`, so the simulator reads one setting whatever the
protocol it speaks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Setting:
    key: str  # the 1.6 name
    component: str  # the 2.0.1 component ...
    variable: str  # ... and variable
    value: str
    readonly: bool = False
    kind: type = str  # int and bool are checked on change


DEFAULTS = (
    Setting("HeartbeatInterval", "OCPPCommCtrlr", "HeartbeatInterval", "300", kind=int),
    Setting("MeterValueSampleInterval", "SampledDataCtrlr", "TxUpdatedInterval", "60", kind=int),
    Setting("ConnectionTimeOut", "TxCtrlr", "EVConnectionTimeOut", "120", kind=int),
    Setting("AuthorizeRemoteTxRequests", "AuthCtrlr", "AuthorizeRemoteStart", "false", kind=bool),
    Setting("LocalAuthorizeOffline", "AuthCtrlr", "LocalAuthorizeOffline", "true", kind=bool),
    Setting(
        "MeterValuesSampledData",
        "SampledDataCtrlr",
        "TxUpdatedMeasurands",
        "Energy.Active.Import.Register,Power.Active.Import,SoC",
    ),
    Setting("NumberOfConnectors", "EVSE", "Count", "1", readonly=True, kind=int),
)


class ConfigStore:
    def __init__(self, connectors: int = 1, on_change: Callable[[str], None] | None = None):
        self._by_key = {s.key: Setting(**vars(s)) for s in DEFAULTS}
        self._by_key["NumberOfConnectors"].value = str(connectors)
        self._by_var = {(s.component, s.variable): s for s in self._by_key.values()}
        self._on_change = on_change

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_key.values())

    def get(self, key: str) -> Setting | None:
        return self._by_key.get(key)

    def get_variable(self, component: str, variable: str) -> Setting | None:
        return self._by_var.get((component, variable))

    def knows_component(self, component: str) -> bool:
        return any(c == component for c, _ in self._by_var)

    def get_int(self, key: str) -> int:
        return int(self._by_key[key].value)

    def get_bool(self, key: str) -> bool:
        return self._by_key[key].value.lower() == "true"

    def change(self, setting: Setting, value: str) -> str:
        """Set a value; returns Accepted or Rejected (read-only or not of its kind)."""
        if setting.readonly:
            return "Rejected"
        if setting.kind is int:
            try:
                if int(value) < 0:
                    return "Rejected"
            except ValueError:
                return "Rejected"
        if setting.kind is bool and value.lower() not in ("true", "false"):
            return "Rejected"
        setting.value = value
        if self._on_change:
            self._on_change(setting.key)
        return "Accepted"

    def set_internal(self, key: str, value: str) -> None:
        """Set a value as the charger itself does (e.g. the boot's heartbeat interval)."""
        self._by_key[key].value = value
