"""Malformed frames and schema violations, sent as raw websocket frames: each CALL gets
its proper CALLERROR in the charger's own OCPP version, and the connection stays up."""

from __future__ import annotations

from typing import Any

import pytest

from tests import factories as f
from tests.integration.bridge_harness import raw_call, run, running_bridge

# (frame, expected message id, 1.6 error code, 2.0.1 error code)
CASES: list[tuple[Any, str, str, str]] = [
    ("this is not json", "-1", "FormationViolation", "RpcFrameworkError"),
    ('{"not": "an array"}', "-1", "ProtocolError", "RpcFrameworkError"),
    ([2, "m1", "Heartbeat"], "m1", "ProtocolError", "RpcFrameworkError"),
    ([7, "m2", "Heartbeat", {}], "m2", "PropertyConstraintViolation", "MessageTypeNotSupported"),
    ([2, "m3", "Heartbeat", {"unexpected": 1}], "m3", "FormationViolation", "FormatViolation"),
    ([2, "m4", "Heartbeat", ["not", "an", "object"]], "m4", "FormationViolation",
     "FormatViolation"),
    ([2, "m5", "FlyToTheMoon", {}], "m5", "NotSupported", "NotSupported"),
    ([2, "m6", "SignCertificate", {"csr": "x"}], "m6", "NotImplemented", "NotImplemented"),
]  # fmt: skip

BAD_TYPES = {
    "1.6": [2, "t1", "BootNotification", {"chargePointVendor": 5, "chargePointModel": "x"}],
    "2.0.1": [2, "t1", "BootNotification",
              {"reason": "PowerUp", "chargingStation": {"model": 5, "vendorName": "x"}}],
}  # fmt: skip
MISSING = {
    "1.6": [2, "t2", "StatusNotification", {"connectorId": 1, "status": "Available"}],
    "2.0.1": [2, "t2", "StatusNotification", {"timestamp": "2026-11-20T12:00:00Z",
                                              "connectorStatus": "Available", "evseId": 1}],
}  # fmt: skip
TOO_LONG = {
    "1.6": [2, "t3", "Authorize", {"idTag": "X" * 21}],
    "2.0.1": [2, "t3", "Authorize", {"idToken": {"idToken": "X" * 37, "type": "ISO14443"}}],
}  # fmt: skip


@pytest.fixture
def identity(session) -> str:  # type: ignore[no-untyped-def]
    cp = f.charge_point(session, f.site(session, f.operator(session)))
    f.charger_password(session, cp)
    session.commit()
    return cp.ocpp_identity


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_every_bad_frame_gets_its_callerror_and_the_connection_stays_up(
    container, clock, identity, version
) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            ws = await h.open(identity, subprotocols=(f"ocpp{version}",))
            for frame, message_id, code16, code201 in CASES:
                answer = await raw_call(ws, frame)
                expected = code16 if version == "1.6" else code201
                assert answer[:3] == [4, message_id, expected], (frame, answer)
                assert isinstance(answer[3], str) and isinstance(answer[4], dict)

            assert (await raw_call(ws, BAD_TYPES[version]))[2] == "TypeConstraintViolation"
            # 1.6: "Payload for Action is incomplete"; 2.0.1 has a code of its own.
            assert (await raw_call(ws, MISSING[version]))[:3] == [
                4, "t2", "ProtocolError" if version == "1.6" else "OccurrenceConstraintViolation"
            ]  # fmt: skip
            assert (await raw_call(ws, TOO_LONG[version]))[2] == "TypeConstraintViolation"

            # After all that, the same socket still serves.
            answer = await raw_call(ws, [2, "ok", "Heartbeat", {}])
            assert answer == [3, "ok", {"currentTime": "2026-11-20T12:00:00Z"}]
            assert identity in h.bridge.registry

    run(scenario())


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_a_malformed_answer_to_our_call_is_dropped_not_answered(
    container, clock, identity, version
) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            ws = await h.open(identity, subprotocols=(f"ocpp{version}",))
            await ws.send('[3, "x"]')  # a CALLRESULT without payload
            answer = await raw_call(ws, [2, "ok", "Heartbeat", {}])
            assert answer[:2] == [3, "ok"]  # the next frame is the Heartbeat's answer

    run(scenario())
