"""`wattpass migrate` and `wattpass create-admin` against real databases."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect

from backend import cli
from backend.bootstrap import bootstrap
from backend.config import Settings
from backend.db.models.enums import Role
from backend.errors import NotAuthenticated
from backend.services import accounts

SECRET = "cli-test-secret-" + "x" * 32
ADMIN_PASSWORD = "correct horse battery staple"


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    # A folder that does not exist yet: migrate must create it for the SQLite file.
    url = f"sqlite:///{tmp_path / 'not-yet' / 'wattpass.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SECRET_KEY", SECRET)
    return url


def _login(url: str, email: str, password: str) -> accounts.TokenPair:
    container = bootstrap(Settings(database_url=url, secret_key=SECRET))
    try:
        with container.session_factory() as s:
            return accounts.login(s, email, password, container.settings, datetime.now(UTC))
    finally:
        container.close()


def test_migrate_creates_the_schema_and_says_so(
    sqlite_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["migrate"]) == 0
    out = capsys.readouterr().out
    assert "latest schema" in out
    container = bootstrap(Settings(database_url=sqlite_env, secret_key=SECRET))
    try:
        assert "users" in inspect(container.engine).get_table_names()
    finally:
        container.close()


def test_create_admin_from_the_environment_can_log_in(
    sqlite_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["migrate"]) == 0
    monkeypatch.setenv(cli.ADMIN_PASSWORD_ENV, ADMIN_PASSWORD)

    assert cli.main(["create-admin", "--email", "Ops@Example.com"]) == 0

    out, err = capsys.readouterr()
    assert "ops@example.com" in out
    assert ADMIN_PASSWORD not in out + err
    pair = _login(sqlite_env, "ops@example.com", ADMIN_PASSWORD)
    assert pair.role == Role.PLATFORM_ADMIN.value
    with pytest.raises(NotAuthenticated):
        _login(sqlite_env, "ops@example.com", "a wrong password")


def test_create_admin_twice_or_weak_password_is_a_clear_error(
    sqlite_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["migrate"]) == 0
    monkeypatch.setenv(cli.ADMIN_PASSWORD_ENV, ADMIN_PASSWORD)
    assert cli.main(["create-admin", "--email", "ops@example.com"]) == 0
    capsys.readouterr()

    assert cli.main(["create-admin", "--email", "ops@example.com"]) == 1
    assert "already exists" in capsys.readouterr().err

    monkeypatch.setenv(cli.ADMIN_PASSWORD_ENV, "short")
    assert cli.main(["create-admin", "--email", "other@example.com"]) == 1
    assert "longer password" in capsys.readouterr().err


def test_create_admin_before_migrate_points_at_migrate(
    sqlite_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    Path(sqlite_env.removeprefix("sqlite:///")).parent.mkdir(parents=True)
    monkeypatch.setenv(cli.ADMIN_PASSWORD_ENV, ADMIN_PASSWORD)
    assert cli.main(["create-admin", "--email", "ops@example.com"]) == 1
    assert "wattpass migrate" in capsys.readouterr().err


def test_migrate_on_postgresql_is_idempotent_and_hides_the_password(
    pg_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # pg_url is already at head: migrating again must be a no-op that succeeds. The
    # test server trusts loopback, so a password in the URL is accepted and ignored,
    # which lets us check it is never printed.
    scheme, rest = pg_url.split("://", 1)
    user, host = rest.split("@", 1)
    monkeypatch.setenv("DATABASE_URL", f"{scheme}://{user}:pg-pass-4711@{host}")
    monkeypatch.setenv("SECRET_KEY", SECRET)
    with caplog.at_level(logging.DEBUG):
        assert cli.main(["-v", "migrate"]) == 0
    out, err = capsys.readouterr()
    assert "migrating postgresql://" in caplog.text
    assert "latest schema" in out
    assert "***@" in out
    assert "pg-pass-4711" not in out + err + caplog.text


def test_api_server_stop_lets_an_answer_in_flight_finish() -> None:
    """SIGTERM during a request: the caller still gets the whole answer, then the port
    closes. The answer is large so that part of it is still queued in the server when
    the stop begins (waitress's loop must keep flushing it)."""
    import http.client
    import threading
    import time
    from typing import Any

    from backend.server import WsgiServer

    started = threading.Event()
    BIG = 20_000_000

    def slow_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        started.set()
        time.sleep(0.5)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"x" * BIG]

    server = WsgiServer("api", slow_app, "127.0.0.1", 0)
    server.start()
    answers: list[tuple[int, bytes]] = []

    def call() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/slow")
        resp = conn.getresponse()
        answers.append((resp.status, len(resp.read())))

    caller = threading.Thread(target=call)
    caller.start()
    assert started.wait(10)
    server.stop()
    caller.join(10)

    assert answers == [(200, BIG)]
    assert not server.alive()
    with pytest.raises(OSError):
        http.client.HTTPConnection("127.0.0.1", server.port, timeout=2).request("GET", "/")
