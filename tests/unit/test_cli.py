"""The `wattpass` command's parts that need no database: the supervisor of `run`, the
access log, the private credentials file, the argument parser and the entry point."""

from __future__ import annotations

import logging
import os
import signal
import stat
import threading
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from backend import cli
from backend.config import Settings
from backend.server import AccessLog, Supervisor


class FakeComponent:
    """A component that records what the supervisor did to it."""

    def __init__(self, name: str, journal: list[str], *, fail_start: bool = False) -> None:
        self.name = name
        self.journal = journal
        self.fail_start = fail_start
        self.running = False

    def start(self) -> None:
        if self.fail_start:
            raise RuntimeError(f"{self.name} cannot start")
        self.running = True
        self.journal.append(f"start {self.name}")

    def stop(self) -> None:
        self.running = False
        self.journal.append(f"stop {self.name}")

    def alive(self) -> bool:
        return self.running

    def banner(self) -> list[str]:
        return [f"{self.name} is up"]


def _supervisor(components: list[FakeComponent]) -> tuple[Supervisor, list[str]]:
    printed: list[str] = []
    sup = Supervisor(components, out=printed.append)
    sup.POLL_SECONDS = 0.02
    return sup, printed


def test_sigterm_stops_components_in_reverse_order_and_exits_cleanly() -> None:
    journal: list[str] = []
    parts = [FakeComponent(n, journal) for n in ("api", "bridge", "chargers")]
    sup, printed = _supervisor(parts)
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
    before = signal.getsignal(signal.SIGTERM)

    assert sup.run() == 0

    assert journal == [
        "start api",
        "start bridge",
        "start chargers",
        "stop chargers",
        "stop bridge",
        "stop api",
    ]
    assert printed[:3] == ["api is up", "bridge is up", "chargers is up"]
    assert signal.getsignal(signal.SIGTERM) == before  # handlers are given back


def test_a_component_that_dies_stops_the_others_and_fails_the_command() -> None:
    journal: list[str] = []
    api, bridge = FakeComponent("api", journal), FakeComponent("bridge", journal)
    sup, _ = _supervisor([api, bridge])
    threading.Timer(0.1, lambda: setattr(bridge, "running", False)).start()

    assert sup.run() == 1
    assert journal[-2:] == ["stop bridge", "stop api"]


def test_a_component_that_cannot_start_leaves_nothing_running() -> None:
    journal: list[str] = []
    api = FakeComponent("api", journal)
    broken = FakeComponent("bridge", journal, fail_start=True)
    sup, printed = _supervisor([api, broken])

    with pytest.raises(RuntimeError, match="bridge cannot start"):
        sup.run()
    assert journal == ["start api", "stop api"]
    assert not api.running
    assert printed == []  # no "go to this URL" for a platform that is not there


def test_access_log_writes_one_line_without_query_headers_or_body(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("401 UNAUTHORIZED", [("Content-Type", "application/json")])
        return [b"{}"]

    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/auth/login",
        "QUERY_STRING": "token=query-secret",
        "HTTP_AUTHORIZATION": "Bearer header-secret",
        "wsgi.input": b'{"password": "body-secret"}',
    }
    with caplog.at_level(logging.INFO, logger="wattpass.access"):
        body = AccessLog(app)(environ, lambda status, headers, *exc: None)
    assert body == [b"{}"]
    lines = [r.getMessage() for r in caplog.records if r.name == "wattpass.access"]
    assert len(lines) == 1
    assert lines[0].startswith("POST /auth/login 401 ")
    for secret in ("query-secret", "header-secret", "body-secret"):
        assert secret not in caplog.text


def test_credentials_file_is_private_even_when_it_existed(tmp_path: Path) -> None:
    path = tmp_path / "var" / "demo-credentials.json"
    path.parent.mkdir()
    path.write_text("old")
    path.chmod(0o644)

    cli.write_private_json(path, {"drivers": [{"email": "a@example.com", "password": "pw"}]})

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert '"email": "a@example.com"' in path.read_text()


def test_demo_logins_are_found_wherever_the_summary_keeps_them() -> None:
    summary = {
        "already_loaded": False,
        "platform_admin": {"email": "admin@demo.example", "password": "pa"},
        "operators": [
            {
                "name": "Hotel",
                "staff_login": {"email": "staff@demo.example", "password": "ps"},
                "codes": [{"code": "ABCD-EFGH", "label": "room 204"}],
            }
        ],
        "drivers": [{"email": "anna@demo.example", "password": "pd", "who": "resident"}],
    }
    assert cli.demo_logins(summary) == [
        ("admin@demo.example", "pa", "platform_admin"),
        ("staff@demo.example", "ps", "Hotel / staff_login"),
        ("anna@demo.example", "pd", "drivers, resident"),
    ]
    assert cli._counts(summary) == "1 operators, 1 drivers"


def test_serve_and_run_listen_where_settings_say_unless_told_otherwise() -> None:
    settings = Settings(database_url="sqlite://", secret_key="s" * 40, api_port=9100)
    parser = cli.build_parser(settings)
    run = parser.parse_args(["run"])
    assert (run.host, run.port) == ("127.0.0.1", 9100)
    args = parser.parse_args(["serve", "--host", "127.0.0.2", "--port", "8123"])
    assert (args.host, args.port, args.func) == ("127.0.0.2", 8123, cli.cmd_serve)
    with pytest.raises(SystemExit):
        parser.parse_args(["create-admin"])  # --email is required


def test_create_admin_without_a_password_source_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(cli.ADMIN_PASSWORD_ENV, raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(cli.CommandError, match=cli.ADMIN_PASSWORD_ENV):
        cli._admin_password()


def test_console_script_points_at_main() -> None:
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "wattpass"]
    assert script.load() is cli.main
