"""The charger simulator speaking OCPP 1.6J to a test-only central system, over real
websockets on loopback, with simulated time running 600–3600× faster."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from ocpp.v16 import call

from ocpp_bridge.simulator import PowerCurve
from tests.integration.test_simulator_csms import START, FakeCentralSystem, run


def statuses(csms: FakeCentralSystem, connector_id: int = 1) -> list[str]:
    return [p["status"] for p in csms.of("StatusNotification") if p["connector_id"] == connector_id]


def sample(meter_value: list[dict[str, Any]], measurand: str) -> int:
    for item in meter_value[0]["sampled_value"]:
        if item["measurand"] == measurand:
            return int(item["value"])
    raise KeyError(measurand)


def test_full_session_along_the_power_curve() -> None:
    async def body() -> None:
        async with FakeCentralSystem(boot_interval=600) as csms:
            sim = csms.simulator("CP-1", "1.6", speed=7200, meter_interval_s=300)
            await sim.connect(timeout=5)
            tx = await sim.plug_in(1, "TAG-1", battery_wh=40_000, soc_percent=70)
            assert tx is not None and tx.remote_id == 100
            energy = await sim.charge()
            assert sim.connector(1).power_w == 0
            await sim.idle(15 * 60)
            await sim.unplug()
            await sim.close()

        assert statuses(csms) == [
            "Available", "Preparing", "Charging", "SuspendedEV", "Finishing", "Available"
        ]  # fmt: skip
        assert csms.of("Authorize")[0]["id_tag"] == "TAG-1"
        start = csms.of("StartTransaction")[0]
        assert start["meter_start"] == 0 and start["timestamp"].endswith("Z")
        started_at = datetime.fromisoformat(start["timestamp"])
        assert timedelta(0) < started_at - START < timedelta(hours=1)  # simulated time
        meters = csms.of("MeterValues")
        assert all(m["transaction_id"] == 100 for m in meters)
        energies = [sample(m["meter_value"], "Energy.Active.Import.Register") for m in meters]
        powers = [sample(m["meter_value"], "Power.Active.Import") for m in meters]
        socs = [sample(m["meter_value"], "SoC") for m in meters]
        assert energies == sorted(energies) and socs == sorted(socs)
        assert powers[0] == 11_000  # constant power below 80 %
        assert powers[-1] == 0  # the car is full
        tapering = [p for p, s in zip(powers, socs, strict=True) if 80 < s < 100 and p]
        assert tapering and all(p < 11_000 for p in tapering)
        assert tapering == sorted(tapering, reverse=True)
        stop = csms.of("StopTransaction")[0]
        assert stop["transaction_id"] == 100 and stop["reason"] == "EVDisconnected"
        assert stop["meter_stop"] == energies[-1] == energy
        assert 11_500 <= energy <= 12_000  # 30 % of 40 kWh, less what the cutoff leaves
        assert len(csms.of("Heartbeat")) >= 10  # every 600 simulated seconds
        assert stop["timestamp"] > meters[-1]["meter_value"][0]["timestamp"]

    run(body())


def test_fault_then_reset_recovers() -> None:
    async def body() -> None:
        async with FakeCentralSystem() as csms:
            sim = csms.simulator("CP-1", "1.6")
            await sim.connect(timeout=5)
            await sim.plug_in(1, "TAG-1")
            await sim.fault(1, "GroundFailure")
            faulted = await csms.wait_for(
                "StatusNotification", where=lambda p: p["status"] == "Faulted"
            )
            assert faulted["error_code"] == "GroundFailure"
            assert csms.of("StopTransaction")[0]["reason"] == "Other"
            refused = await csms.send("CP-1", call.RemoteStartTransaction(id_tag="TAG-2"))
            assert refused.status == "Rejected"

            answer = await csms.send("CP-1", call.Reset(type="Soft"))
            assert answer.status == "Accepted"
            await csms.wait_for("BootNotification", count=2)
            after = await csms.wait_for(
                "StatusNotification", where=lambda p: p["connector_id"] == 1, count=5
            )
            assert (after["status"], after["error_code"]) == ("Preparing", "NoError")
            started = await csms.send("CP-1", call.RemoteStartTransaction(id_tag="TAG-2"))
            assert started.status == "Accepted"
            await csms.wait_for("StartTransaction", count=2)
            await sim.close()

    run(body())


def test_offline_messages_are_replayed_in_order_after_reconnect_and_boot() -> None:
    async def body() -> None:
        async with FakeCentralSystem() as csms:
            sim = csms.simulator("CP-1", "1.6", speed=1200)
            await sim.connect(timeout=5)
            await sim.go_offline()
            # The whole session happens while the network is down.
            await sim.plug_in(1, "TAG-1")
            await sim.charge(duration_s=20 * 60)
            await sim.unplug()
            assert len(sim.queue) >= 3
            assert csms.of("StartTransaction") == []
            offline_until = sim.clock.now()
            await sim.come_back(timeout=5)
            await csms.wait_for("StopTransaction")
            await sim.close()

        after_boot = csms.actions()[csms.actions().index("BootNotification", 1) :]
        tx_msgs = [
            a for a in after_boot if a in ("StartTransaction", "MeterValues", "StopTransaction")
        ]
        assert tx_msgs[0] == "StartTransaction" and tx_msgs[-1] == "StopTransaction"
        assert set(tx_msgs[1:-1]) == {"MeterValues"} and len(tx_msgs) >= 4
        assert "Authorize" not in csms.actions()  # offline: authorised locally
        stamps = [csms.of("StartTransaction")[0]["timestamp"]]
        stamps += [m["meter_value"][0]["timestamp"] for m in csms.of("MeterValues")]
        stamps.append(csms.of("StopTransaction")[0]["timestamp"])
        assert stamps == sorted(stamps)
        assert stamps[-1] < offline_until.strftime("%Y-%m-%dT%H:%M:%S.999Z")  # original times
        tx_id = csms.of("StopTransaction")[0]["transaction_id"]
        assert tx_id == 100 and all(m["transaction_id"] == 100 for m in csms.of("MeterValues"))

    run(body())


def test_firmware_update_reboots_into_the_new_version() -> None:
    async def body() -> None:
        async with FakeCentralSystem() as csms:
            sim = csms.simulator("CP-1", "1.6")
            await sim.connect(timeout=5)
            await csms.send(
                "CP-1",
                call.UpdateFirmware(
                    location="https://fw.example/wattbox-2.1.0.bin",
                    retrieve_date="2026-03-02T08:00:00Z",
                ),
            )
            await csms.wait_for("BootNotification", count=2)
            await sim.close()
        fw = [p["status"] for p in csms.of("FirmwareStatusNotification")]
        assert fw == ["Downloading", "Downloaded", "Installing", "Installed"]
        boots = csms.of("BootNotification")
        assert [b["firmware_version"] for b in boots] == ["1.0.0", "2.1.0"]
        assert csms.actions().index("BootNotification", 1) > csms.actions().index(
            "FirmwareStatusNotification"
        )

    run(body())


def test_firmware_update_failures() -> None:
    async def body(mode: str) -> list[str]:
        async with FakeCentralSystem() as csms:
            sim = csms.simulator("CP-1", "1.6")
            sim.firmware_failure = mode
            await sim.connect(timeout=5)
            await csms.send(
                "CP-1",
                call.UpdateFirmware(
                    location="https://fw/x.bin", retrieve_date="2026-01-01T00:00:00Z"
                ),
            )
            await csms.wait_for("FirmwareStatusNotification", where=lambda p: p["status"] == mode)
            await sim.idle(300)
            await sim.close()
        assert len(csms.of("BootNotification")) == 1  # no reboot
        assert sim.firmware_version == "1.0.0"
        return [p["status"] for p in csms.of("FirmwareStatusNotification")]

    assert run(body("DownloadFailed")) == ["Downloading", "DownloadFailed"]
    assert run(body("InstallationFailed")) == [
        "Downloading", "Downloaded", "Installing", "InstallationFailed"
    ]  # fmt: skip


def test_remote_start_and_stop() -> None:
    async def body() -> None:
        async with FakeCentralSystem() as csms:
            sim = csms.simulator("CP-1", "1.6", connectors=2)
            await sim.connect(timeout=5)
            nobody = await csms.send("CP-1", call.RemoteStartTransaction(id_tag="TAG-9"))
            assert nobody.status == "Rejected"  # no car plugged in
            await sim.plug_in(2)
            ok = await csms.send("CP-1", call.RemoteStartTransaction(id_tag="TAG-9"))
            assert ok.status == "Accepted"
            start = await csms.wait_for("StartTransaction")
            assert (start["connector_id"], start["id_tag"]) == (2, "TAG-9")
            await sim.wait_for(
                "StatusNotification", where=lambda e: e.payload["status"] == "Charging"
            )
            assert "Authorize" not in csms.actions()  # AuthorizeRemoteTxRequests = false
            unknown = await csms.send("CP-1", call.RemoteStopTransaction(transaction_id=999))
            assert unknown.status == "Rejected"
            stop = await csms.send("CP-1", call.RemoteStopTransaction(transaction_id=100))
            assert stop.status == "Accepted"
            stopped = await csms.wait_for("StopTransaction")
            assert (stopped["transaction_id"], stopped["reason"]) == (100, "Remote")
            await csms.wait_for("StatusNotification", where=lambda p: p["status"] == "Finishing")
            await sim.unplug(2)
            await sim.close()
        assert statuses(csms, 2)[-1] == "Available"
        assert [e.response for e in sim.received("RemoteStartTransaction")] == [
            {"status": "Rejected"}, {"status": "Accepted"}
        ]  # fmt: skip

    run(body())


def test_pending_and_rejected_boot_are_retried_after_the_interval() -> None:
    async def body() -> None:
        async with FakeCentralSystem(boot_answers=["Pending", "Rejected"]) as csms:
            sim = csms.simulator("CP-1", "1.6", speed=600)
            await sim.connect(timeout=5)
            await sim.close()
        boots = [e for e in sim.events if e.action == "BootNotification"]
        assert [e.response["status"] for e in boots] == ["Pending", "Rejected", "Accepted"]
        gaps = [(b.at - a.at).total_seconds() for a, b in itertools.pairwise(boots)]
        assert all(gap >= 60 for gap in gaps)  # the interval the central system gave
        first_other = next(i for i, a in enumerate(csms.actions()) if a != "BootNotification")
        assert first_other == 3  # nothing else before the boot was accepted

    run(body())


def test_configuration_heartbeat_interval_and_other_commands() -> None:
    async def body() -> None:
        async with FakeCentralSystem(boot_interval=3600) as csms:
            sim = csms.simulator("CP-1", "1.6", speed=600)
            await sim.connect(timeout=5)
            got = await csms.send("CP-1", call.GetConfiguration(key=["HeartbeatInterval", "Nope"]))
            assert got.configuration_key[0]["value"] == "3600" and got.unknown_key == ["Nope"]
            changes = {
                ("HeartbeatInterval", "60"): "Accepted",
                ("HeartbeatInterval", "soon"): "Rejected",
                ("NumberOfConnectors", "4"): "Rejected",
                ("NoSuchKey", "1"): "NotSupported",
            }
            for (key, value), expected in changes.items():
                answer = await csms.send("CP-1", call.ChangeConfiguration(key=key, value=value))
                assert answer.status == expected, key
            await csms.wait_for("Heartbeat", count=3, timeout=3)  # 60 s at 600× = 0.1 s

            trig = await csms.send("CP-1", call.TriggerMessage(requested_message="MeterValues"))
            assert trig.status == "Accepted"
            await csms.wait_for("MeterValues")
            diag = await csms.send("CP-1", call.GetDiagnostics(location="ftp://logs/"))
            assert diag.file_name == "CP-1-diagnostics.log"
            await csms.wait_for("DiagnosticsStatusNotification", count=2)
            assert [p["status"] for p in csms.of("DiagnosticsStatusNotification")] == [
                "Uploading", "Uploaded"
            ]  # fmt: skip
            off = await csms.send(
                "CP-1", call.ChangeAvailability(connector_id=1, type="Inoperative")
            )
            assert off.status == "Accepted"
            await csms.wait_for("StatusNotification", where=lambda p: p["status"] == "Unavailable")
            unlock = await csms.send("CP-1", call.UnlockConnector(connector_id=1))
            assert unlock.status == "Unlocked"
            await sim.close()

    run(body())


def test_custom_power_curve_without_taper() -> None:
    async def body() -> None:
        async with FakeCentralSystem() as csms:
            curve = PowerCurve(max_power_w=7_000, taper_from_percent=100)
            sim = csms.simulator("CP-1", "1.6", speed=3600, curve=curve)
            await sim.connect(timeout=5)
            await sim.plug_in(1, "TAG", battery_wh=10_000, soc_percent=50)
            energy = await sim.charge()
            await sim.unplug()
            await sim.close()
        assert energy == 5_000
        powers = {
            sample(m["meter_value"], "Power.Active.Import") for m in csms.of("MeterValues")[:-1]
        }
        assert powers == {7_000}

    run(body())


def test_a_refused_badge_starts_no_session() -> None:
    async def body() -> None:
        async with FakeCentralSystem(rejected_tags={"STOLEN"}) as csms:
            sim = csms.simulator("CP-1", "1.6")
            await sim.connect(timeout=5)
            assert await sim.plug_in(1, "STOLEN") is None
            assert sim.connector(1).status == "Preparing"
            tx = await sim.start_session(1, "GOOD")
            assert tx is not None and tx.remote_id == 100
            await sim.close()
        assert [p["id_tag"] for p in csms.of("Authorize")] == ["STOLEN", "GOOD"]
        assert [p["id_tag"] for p in csms.of("StartTransaction")] == ["GOOD"]

    run(body())
