"""The compiled schema checks are never looser than jsonschema (the library's validator),
and accept the ordinary messages, so the fast path is both safe and actually taken."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ocpp.messages import get_validator

from ocpp_bridge.fastcheck import schema_check

METER_16 = {
    "connectorId": 1,
    "transactionId": 7,
    "meterValue": [
        {
            "timestamp": "2026-11-20T12:00:00Z",
            "sampledValue": [
                {"value": "1234", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": "7.3", "measurand": "Power.Active.Import", "unit": "kW", "phase": "L1"},
            ],
        }
    ],
}
EVENT_201 = {
    "eventType": "Updated",
    "timestamp": "2026-11-20T12:00:00Z",
    "triggerReason": "MeterValuePeriodic",
    "seqNo": 3,
    "transactionInfo": {"transactionId": "tx-1", "chargingState": "Charging"},
    "evse": {"id": 1, "connectorId": 1},
    "idToken": {"idToken": "04A1B2C3", "type": "ISO14443"},
    "meterValue": [
        {
            "timestamp": "2026-11-20T12:00:00Z",
            "sampledValue": [
                {"value": 1234.5, "measurand": "Energy.Active.Import.Register",
                 "unitOfMeasure": {"unit": "kWh", "multiplier": 0}},
            ],
        }
    ],
}  # fmt: skip
BOOT_16 = {"chargePointVendor": "Acme", "chargePointModel": "AC22", "firmwareVersion": "1.0"}
STATUS_201 = {
    "timestamp": "2026-11-20T12:00:00Z",
    "connectorStatus": "Occupied",
    "evseId": 1,
    "connectorId": 1,
}
MESSAGES: list[tuple[str, str, dict[str, Any]]] = [
    ("1.6", "MeterValues", METER_16),
    ("1.6", "BootNotification", BOOT_16),
    ("2.0.1", "TransactionEvent", EVENT_201),
    ("2.0.1", "StatusNotification", STATUS_201),
]


def schema_valid(version: str, action: str, payload: Any) -> bool:
    name_type = 2  # a CALL
    return bool(get_validator(name_type, action, version).is_valid(payload))


@pytest.mark.parametrize(("version", "action", "payload"), MESSAGES)
def test_ordinary_messages_take_the_fast_path(version: str, action: str, payload: Any) -> None:
    check = schema_check(version, action)
    assert check is not None and check(payload) and schema_valid(version, action, payload)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**12) | st.floats(allow_nan=False)
    | st.text(max_size=40) | st.sampled_from(["Wh", "kWh", "Charging", "Updated", "L1", "x" * 37]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner,
                                                                  max_size=3),
    max_leaves=8,
)  # fmt: skip


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _paths(v, (*prefix, i))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str, Any]:
    """A valid message with one place replaced, deleted or given an extra key."""
    version, action, payload = draw(st.sampled_from(MESSAGES))
    payload = copy.deepcopy(payload)
    path = draw(st.sampled_from(_paths(payload)))
    how = draw(st.sampled_from(["replace", "delete", "extra"]))
    if not path:
        return version, action, draw(json_values) if how == "replace" else payload
    parent = payload
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "replace":
        parent[last] = draw(json_values)
    elif how == "delete":
        del parent[last]
    elif isinstance(parent[last], dict):
        parent[last][draw(st.text(min_size=1, max_size=8))] = draw(json_values)
    return version, action, payload


@settings(max_examples=600)
@given(mutated())
def test_the_compiled_check_is_never_looser_than_jsonschema(case: tuple[str, str, Any]) -> None:
    version, action, payload = case
    check = schema_check(version, action)
    assert check is not None
    if check(payload):
        assert schema_valid(version, action, payload), payload


def test_schemas_outside_the_compiled_subset_are_left_to_the_library() -> None:
    assert schema_check("1.6", "SetChargingProfile") is None  # multipleOf
    assert schema_check("1.6", "NoSuchAction") is None
