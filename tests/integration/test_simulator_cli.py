"""The simulator's command line, run as a real process against the test central system."""

from __future__ import annotations

import asyncio
import json
import sys

from tests.integration.test_simulator_csms import FakeCentralSystem, run


async def simulator_process(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ocpp_bridge.simulator",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def test_full_session_scenario_from_the_command_line() -> None:
    async def body() -> None:
        async with FakeCentralSystem() as csms:
            csms.passwords["CP-CLI"] = "s3cret"
            code, out, err = await simulator_process(
                "--url", csms.url, "--identity", "CP-CLI", "--password", "s3cret",
                "--version", "2.0.1", "--scenario", "full-session", "--speed", "14400",
                "--sample-interval", "300",
                "--id-tag", "CLI-TAG",
            )  # fmt: skip
            assert code == 0, err
            kinds = [e["event_type"] for e in csms.of("TransactionEvent")]
            assert kinds[0] == "Started" and kinds[-1] == "Ended"
            lines = out.splitlines()
            assert any("→ BootNotification" in line for line in lines)
            assert lines[-1].split()[2] == "StatusNotification"  # ends Available

    run(body(), timeout=60)


def test_wrong_password_exits_non_zero() -> None:
    async def body() -> None:
        async with FakeCentralSystem() as csms:
            csms.passwords["CP-CLI"] = "right"
            code, _, err = await simulator_process(
                "--url", csms.url, "--identity", "CP-CLI", "--password", "wrong",
                "--connect-timeout", "1", "--output", "quiet",
            )  # fmt: skip
            assert code == 1 and "401" in err

    run(body(), timeout=60)


def test_fleet_mode_boots_every_charger_and_sends_meter_values() -> None:
    async def body() -> None:
        async with FakeCentralSystem() as csms:
            for i in range(1, 21):
                csms.passwords[f"LOAD-{i:05d}"] = "fleet"
            code, out, err = await simulator_process(
                "--url", csms.url, "--fleet", "20", "--identity-prefix", "LOAD-",
                "--password", "fleet", "--duration", "2", "--meter-interval", "0.25",
                "--heartbeat-interval", "0.5",
            )  # fmt: skip
            assert code == 0, err
            summary = json.loads(out.splitlines()[-1])
            assert summary["booted"] == 20 and summary["call_errors"] == 0
            assert summary["by_action"]["MeterValues"] >= 20 * 4
            senders = {r.identity for r in csms.received if r.action == "MeterValues"}
            assert len(senders) == 20

    run(body(), timeout=60)
