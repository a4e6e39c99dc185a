"""The simulator command line's argument handling and event printing (no network)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from ocpp_bridge.simulator.cli import build_parser, parse_demo, printer
from ocpp_bridge.simulator.model import SimEvent


def test_demo_specs_take_identity_password_and_version() -> None:
    assert parse_demo(["CP-1:s3:cr:et:2.0.1", "CP-2:pw", "CP-3"]) == [
        ("CP-1", "s3:cr:et", "2.0.1"),
        ("CP-2", "pw", "1.6"),
        ("CP-3", None, "1.6"),
    ]


def test_defaults_run_one_full_session_at_60x() -> None:
    args = build_parser().parse_args(["--url", "ws://127.0.0.1:9000/ocpp"])
    assert (args.scenario, args.speed, args.version, args.fleet) == (
        "full-session",
        60.0,
        "1.6",
        None,
    )


def test_events_print_as_json_lines_with_simulated_utc_time() -> None:
    out = io.StringIO()
    at = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    printer("json", out)(SimEvent("out", "Heartbeat", {}, {"currentTime": "x"}, at))
    row = json.loads(out.getvalue())
    assert row["at"] == "2026-03-02T08:00:00.000Z" and row["action"] == "Heartbeat"
    quiet = io.StringIO()
    printer("quiet", quiet)(SimEvent("out", "Heartbeat", {}, None, at))
    assert quiet.getvalue() == ""
