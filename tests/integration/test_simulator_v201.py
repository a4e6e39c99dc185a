"""The charger simulator speaking OCPP 2.0.1 to a test-only central system, over real
websockets on loopback, with simulated time running 600–3600× faster."""

from __future__ import annotations

from typing import Any

from ocpp.v201 import call

from tests.integration.test_simulator_csms import FakeCentralSystem, run


def connector_statuses(csms: FakeCentralSystem, evse_id: int = 1) -> list[str]:
    return [p["connector_status"] for p in csms.of("StatusNotification") if p["evse_id"] == evse_id]


def events(csms: FakeCentralSystem) -> list[dict[str, Any]]:
    return csms.of("TransactionEvent")


def energy(event: dict[str, Any]) -> int:
    for item in event["meter_value"][0]["sampled_value"]:
        if item["measurand"] == "Energy.Active.Import.Register":
            return int(item["value"])
    raise KeyError("no energy register")


def test_full_session_as_transaction_events_with_seq_no() -> None:
    async def body() -> None:
        async with FakeCentralSystem() as csms:
            sim = csms.simulator("CS-1", "2.0.1", speed=7200, meter_interval_s=300)
            await sim.connect(timeout=5)
            await sim.plug_in(1, "TAG-1", battery_wh=40_000, soc_percent=75)
            await sim.charge()
            await sim.idle(600)
            await sim.unplug()
            await sim.close()

        assert connector_statuses(csms) == ["Available", "Occupied", "Available"]
        evs = events(csms)
        assert [e["seq_no"] for e in evs] == list(range(len(evs)))
        assert len({e["transaction_info"]["transaction_id"] for e in evs}) == 1
        started, ended = evs[0], evs[-1]
        assert (started["event_type"], started["trigger_reason"]) == ("Started", "Authorized")
        assert started["id_token"] == {"id_token": "TAG-1", "type": "ISO14443"}
        assert started["evse"] == {"id": 1, "connector_id": 1}
        assert started["meter_value"][0]["sampled_value"][0]["context"] == "Transaction.Begin"
        assert csms.of("Authorize")[0]["id_token"]["id_token"] == "TAG-1"
        updated = [e for e in evs if e["event_type"] == "Updated"]
        assert {e["trigger_reason"] for e in updated} == {
            "MeterValuePeriodic",
            "ChargingStateChanged",
        }
        suspended = [e for e in updated if e["trigger_reason"] == "ChargingStateChanged"]
        assert [e["transaction_info"]["charging_state"] for e in suspended] == ["SuspendedEV"]
        assert ended["event_type"] == "Ended" and ended["trigger_reason"] == "EVCommunicationLost"
        assert ended["transaction_info"]["stopped_reason"] == "EVDisconnected"
        registers = [energy(e) for e in evs if "meter_value" in e]
        assert registers == sorted(registers)
        assert 9_500 <= energy(ended) <= 10_000  # 25 % of 40 kWh
        assert all(e["timestamp"].endswith("Z") for e in evs)
        assert not any(e.get("offline") for e in evs)

    run(body())


def test_fault_reported_then_reset_recovers() -> None:
    async def body() -> None:
        async with FakeCentralSystem() as csms:
            sim = csms.simulator("CS-1", "2.0.1")
            await sim.connect(timeout=5)
            await sim.plug_in(1, "TAG-1")
            await sim.fault(1, "GroundFailure", info="RCD tripped")
            await csms.wait_for("NotifyEvent")
            ended = events(csms)[-1]
            assert ended["event_type"] == "Ended"
            assert ended["transaction_info"]["stopped_reason"] == "GroundFault"
            assert connector_statuses(csms)[-1] == "Faulted"
            event = csms.of("NotifyEvent")[0]["event_data"][0]
            assert (event["tech_code"], event["actual_value"]) == ("GroundFailure", "Faulted")
            token = {"id_token": "TAG-2", "type": "ISO14443"}
            refused = await csms.send(
                "CS-1", call.RequestStartTransaction(id_token=token, remote_start_id=5)
            )
            assert refused.status == "Rejected"

            reset = await csms.send("CS-1", call.Reset(type="Immediate"))
            assert reset.status == "Accepted"
            boot = await csms.wait_for("BootNotification", count=2)
            assert boot["reason"] == "RemoteReset"
            await sim.wait_for("StatusNotification", count=4)
            assert connector_statuses(csms)[-1] == "Occupied"  # the car is still plugged
            accepted = await csms.send(
                "CS-1", call.RequestStartTransaction(id_token=token, remote_start_id=6)
            )
            assert accepted.status == "Accepted"
            started = await csms.wait_for(
                "TransactionEvent", where=lambda p: p["seq_no"] == 0, count=2
            )
            assert started["trigger_reason"] == "RemoteStart"
            assert started["transaction_info"]["remote_start_id"] == 6
            await sim.close()

    run(body())


def test_offline_transaction_events_are_replayed_in_order_flagged_offline() -> None:
    async def body() -> None:
        async with FakeCentralSystem() as csms:
            sim = csms.simulator("CS-1", "2.0.1", speed=1200)
            await sim.connect(timeout=5)
            await sim.plug_in(1, "TAG-1")
            online = len(events(csms))
            await sim.go_offline()
            await sim.charge(duration_s=20 * 60)
            await sim.unplug()
            queued = len(sim.queue)
            await sim.come_back(timeout=5)
            await csms.wait_for("TransactionEvent", where=lambda p: p["event_type"] == "Ended")
            await sim.close()

        evs = events(csms)
        assert online == 1 and queued >= 3 and len(evs) == online + queued
        assert [e["seq_no"] for e in evs] == list(range(len(evs)))
        assert [bool(e.get("offline")) for e in evs] == [False] + [True] * queued
        stamps = [e["timestamp"] for e in evs]
        assert stamps == sorted(stamps)
        boot_again = csms.actions().index("BootNotification", 1)
        assert csms.actions()[boot_again:].count("TransactionEvent") == queued

    run(body())


def test_firmware_update_success_and_failure() -> None:
    firmware = {
        "location": "https://fw.example/wattbox-3.0.2.bin",
        "retrieve_date_time": "2026-03-01T00:00:00Z",
    }

    async def body(failure: str | None) -> tuple[list[str], list[dict[str, Any]]]:
        async with FakeCentralSystem() as csms:
            sim = csms.simulator("CS-1", "2.0.1")
            sim.firmware_failure = failure
            await sim.connect(timeout=5)
            answer = await csms.send("CS-1", call.UpdateFirmware(request_id=7, firmware=firmware))
            assert answer.status == "Accepted"
            if failure:
                await csms.wait_for(
                    "FirmwareStatusNotification", where=lambda p: p["status"] == failure
                )
            else:
                await csms.wait_for("BootNotification", count=2)
            await sim.close()
        fw = csms.of("FirmwareStatusNotification")
        assert {p["request_id"] for p in fw} == {7}
        return [p["status"] for p in fw], csms.of("BootNotification")

    statuses, boots = run(body(None))
    assert statuses == ["Downloading", "Downloaded", "Installing", "Installed"]
    assert boots[1]["reason"] == "FirmwareUpdate"
    assert boots[1]["charging_station"]["firmware_version"] == "3.0.2"
    statuses, boots = run(body("InstallationFailed"))
    assert statuses == ["Downloading", "Downloaded", "Installing", "InstallationFailed"]
    assert len(boots) == 1


def test_request_start_and_stop() -> None:
    async def body() -> None:
        async with FakeCentralSystem() as csms:
            sim = csms.simulator("CS-1", "2.0.1")
            await sim.connect(timeout=5)
            token = {"id_token": "APP-42", "type": "Central"}
            nobody = await csms.send(
                "CS-1", call.RequestStartTransaction(id_token=token, remote_start_id=1)
            )
            assert nobody.status == "Rejected"
            await sim.plug_in(1)
            ok = await csms.send(
                "CS-1", call.RequestStartTransaction(id_token=token, remote_start_id=2, evse_id=1)
            )
            assert ok.status == "Accepted"
            started = await csms.wait_for("TransactionEvent")
            tx_id = started["transaction_info"]["transaction_id"]
            assert started["transaction_info"]["remote_start_id"] == 2
            unlock = await csms.send("CS-1", call.UnlockConnector(evse_id=1, connector_id=1))
            assert unlock.status == "OngoingAuthorizedTransaction"
            stop = await csms.send("CS-1", call.RequestStopTransaction(transaction_id=tx_id))
            assert stop.status == "Accepted"
            ended = await csms.wait_for(
                "TransactionEvent", where=lambda p: p["event_type"] == "Ended"
            )
            assert ended["trigger_reason"] == "RemoteStop"
            assert ended["transaction_info"]["stopped_reason"] == "Remote"
            assert ended["transaction_info"]["charging_state"] == "EVConnected"
            await sim.unplug(1)
            await sim.close()
        assert connector_statuses(csms)[-1] == "Available"

    run(body())


def test_pending_boot_is_retried() -> None:
    async def body() -> None:
        async with FakeCentralSystem(boot_answers=["Pending", "Pending"]) as csms:
            sim = csms.simulator("CS-1", "2.0.1")
            await sim.connect(timeout=5)
            await sim.close()
        assert csms.actions()[:4] == ["BootNotification"] * 3 + ["StatusNotification"]
        assert sim.registration == "Accepted"

    run(body())


def test_variables_trigger_log_availability_and_reset_on_idle() -> None:
    def var(component: str, variable: str, value: str | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {"component": {"name": component}, "variable": {"name": variable}}
        if value is not None:
            item["attribute_value"] = value
        return item

    async def body() -> None:
        async with FakeCentralSystem() as csms:
            sim = csms.simulator("CS-1", "2.0.1", connectors=2)
            await sim.connect(timeout=5)
            got = await csms.send(
                "CS-1",
                call.GetVariables(
                    get_variable_data=[
                        var("OCPPCommCtrlr", "HeartbeatInterval"),
                        var("OCPPCommCtrlr", "Nope"),
                        var("NoSuchCtrlr", "X"),
                    ]
                ),
            )
            results = got.get_variable_result
            assert (results[0]["attribute_status"], results[0]["attribute_value"]) == (
                "Accepted",
                "300",
            )
            assert [r["attribute_status"] for r in results[1:]] == [
                "UnknownVariable",
                "UnknownComponent",
            ]
            setv = await csms.send(
                "CS-1",
                call.SetVariables(
                    set_variable_data=[
                        var("OCPPCommCtrlr", "HeartbeatInterval", "30"),
                        var("EVSE", "Count", "9"),
                    ]
                ),
            )
            assert [r["attribute_status"] for r in setv.set_variable_result] == [
                "Accepted",
                "Rejected",
            ]
            await csms.wait_for("Heartbeat", count=3, timeout=3)

            trig = await csms.send(
                "CS-1", call.TriggerMessage(requested_message="StatusNotification", evse={"id": 2})
            )
            assert trig.status == "Accepted"
            await csms.wait_for("StatusNotification", where=lambda p: p["evse_id"] == 2, count=2)
            log = await csms.send(
                "CS-1",
                call.GetLog(
                    log={"remote_location": "https://logs/"},
                    log_type="DiagnosticsLog",
                    request_id=3,
                ),
            )
            assert log.status == "Accepted"
            await csms.wait_for("LogStatusNotification", count=2)
            assert [(p["status"], p["request_id"]) for p in csms.of("LogStatusNotification")] == [
                ("Uploading", 3), ("Uploaded", 3)
            ]  # fmt: skip

            off = await csms.send(
                "CS-1", call.ChangeAvailability(operational_status="Inoperative", evse={"id": 2})
            )
            assert off.status == "Accepted"
            await csms.wait_for(
                "StatusNotification", where=lambda p: p["connector_status"] == "Unavailable"
            )

            await sim.plug_in(1, "TAG-1")
            later = await csms.send("CS-1", call.Reset(type="OnIdle"))
            assert later.status == "Scheduled"
            await sim.unplug(1)
            boot = await csms.wait_for("BootNotification", count=2)
            assert boot["reason"] == "RemoteReset"
            await sim.close()

    run(body())
