"""README command (1) as a person uses it: `wattpass run` on a fresh SQLite file.

The command runs as a real process on a free loopback port with its own var/ folder;
the test waits for it, reads the docs, logs in as a demo driver with the credentials
the command saved, then stops it with SIGTERM. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

START_TIMEOUT = 120  # migrate + demo data (argon2 hashes) + bind, on a busy 2-core machine
STOP_TIMEOUT = 20
SECRET_KEY = "e2e-signing-key-" + "z" * 32


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(
    url: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=dict(headers or {}))  # noqa: S310
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback only
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read()


@dataclass
class Platform:
    process: subprocess.Popen[bytes]
    base: str
    var_dir: Path
    stdout: Path
    stderr: Path

    def output(self) -> tuple[str, str]:
        return self.stdout.read_text(), self.stderr.read_text()


def _start(tmp_path: Path, *args: str) -> Platform:
    port = _free_port()
    var_dir = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        WATTPASS_OCPP_PORT=str(_free_port()),
        WATTPASS_VAR_DIR=str(var_dir),
        DATABASE_URL=f"sqlite:///{tmp_path / 'platform.db'}",
        SECRET_KEY=SECRET_KEY,
        PYTHONUNBUFFERED="1",
    )
    stdout, stderr = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "backend.cli", *args, "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=tmp_path,
        )
    platform = Platform(process, f"http://127.0.0.1:{port}", var_dir, stdout, stderr)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out_text, err_text = platform.output()
            pytest.fail(f"`wattpass run` exited with {process.returncode}:\n{out_text}\n{err_text}")
        try:
            # Up once /health answers and the banner is out (printed when every
            # component — bridge, workers, simulated chargers — has started).
            if (
                _request(platform.base + "/health")[0] == 200
                and "Press Ctrl-C" in platform.output()[0]
            ):
                return platform
        except OSError:
            pass
        time.sleep(0.25)
    process.kill()
    process.wait(STOP_TIMEOUT)
    pytest.fail(f"/health did not answer within {START_TIMEOUT} s:\n{platform.output()}")


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    running = _start(tmp_path, "run")
    yield running
    if running.process.poll() is None:  # the test failed before stopping it
        running.process.kill()
        running.process.wait(STOP_TIMEOUT)


def _accounts(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict]]:
    """Every {e-mail/login, password} pair in the credentials file, with where it sits.

    The file's exact keys belong to the demo loader; a login is anything with a password
    and an e-mail-like value beside it.
    """
    if isinstance(node, dict):
        if "password" in node and any("@" in str(v) for v in node.values()):
            yield path, node
        for key, value in node.items():
            yield from _accounts(value, (*path, str(key)))
    elif isinstance(node, list):
        for item in node:
            yield from _accounts(item, path)


def _email(account: dict) -> str:
    return next(str(v) for k, v in account.items() if k != "password" and "@" in str(v))


def test_run_serves_docs_and_demo_logins_then_stops_cleanly_on_sigterm(
    platform: Platform,
) -> None:
    # The banner tells a person where to go.
    out, _ = platform.output()
    assert f"{platform.base}/docs" in out
    assert f"{platform.base}/openapi.json" in out

    # OpenAPI 3 with the API's paths.
    status, ctype, body = _request(platform.base + "/openapi.json")
    assert status == 200 and "json" in ctype
    spec = json.loads(body)
    assert spec["openapi"].startswith("3.")
    assert {"/health", "/auth/login"} <= set(spec["paths"])

    # Swagger UI served from this server, nothing from a CDN (the machine is offline).
    status, ctype, body = _request(platform.base + "/docs")
    page = body.decode()
    assert status == 200 and "text/html" in ctype
    assert not re.search(r"https?://", page), "the docs page loads something from the web"
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert any("swagger-ui-bundle.js" in s for s in scripts)
    for src in scripts + re.findall(r'<link href="([^"]+)"', page):
        status, _, asset = _request(platform.base + src)
        assert status == 200 and len(asset) > 1000, src

    # The demo credentials: saved for the owner only, and they work.
    cred_file = platform.var_dir / "demo-credentials.json"
    assert stat.S_IMODE(cred_file.stat().st_mode) == 0o600
    accounts = list(_accounts(json.loads(cred_file.read_text())))
    assert accounts, "no e-mail/password pairs in the demo credentials"
    drivers = [
        a for p, a in accounts if "driver" in " ".join(p).lower() or a.get("role") == "driver"
    ]
    assert drivers, f"no demo driver among {[p for p, _ in accounts]}"
    status, _, body = _request(
        platform.base + "/auth/login",
        {"email": _email(drivers[0]), "password": drivers[0]["password"]},
    )
    assert status == 200, body
    tokens = json.loads(body)
    assert tokens["role"] == "driver"
    status, _, body = _request(
        platform.base + "/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert status == 200 and json.loads(body)["email"] == _email(drivers[0]).lower()

    # SIGTERM: a clean stop, promptly.
    platform.process.send_signal(signal.SIGTERM)
    assert platform.process.wait(STOP_TIMEOUT) == 0
    out, err = platform.output()
    assert "Traceback" not in err
    # localstripe's state (the demo drivers' test Visa, at least) is kept for the next
    # run, beside the credentials and readable by the owner only.
    assert "Demo cards" in out
    state = platform.var_dir / "localstripe-state.pickle"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600

    # The log has one line per request and no secrets: not the signing key, not the
    # password or tokens of the login above (the console summary of demo logins, on
    # stdout, is the one place demo passwords are shown).
    assert "POST /auth/login 200" in err
    for secret in (SECRET_KEY, drivers[0]["password"], tokens["access_token"]):
        assert secret not in err
    assert SECRET_KEY not in out
    assert tokens["access_token"] not in out


def test_a_busy_port_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "WATTPASS_VAR_DIR": str(tmp_path / "var"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
            "SECRET_KEY": SECRET_KEY,
        }
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "backend.cli", "serve", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def _json(status_ctype_body: tuple[int, str, bytes]) -> Any:
    status, _, body = status_ctype_body
    assert 200 <= status < 300, (status, body[:500])
    return json.loads(body)


def _login(platform: Platform, email: str, password: str) -> dict[str, str]:
    tokens = _json(_request(platform.base + "/auth/login", {"email": email, "password": password}))
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def _until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.5)


def test_run_connects_the_demo_chargers_and_a_driver_charges_from_the_app(
    platform: Platform,
) -> None:
    out, _ = platform.output()
    assert re.search(r"OCPP bridge\s+ws://127\.0\.0\.1:\d+/ocpp", out), out
    assert "Simulated" in out and "WP-HOTEL-01" in out
    creds = json.loads((platform.var_dir / "demo-credentials.json").read_text())
    hotel = next(o for o in creds["operators"] if o["business_case"] == "P2")
    staff = _login(platform, hotel["staff_login"]["email"], hotel["staff_login"]["password"])
    site = f"{platform.base}/operators/{hotel['operator_id']}/sites"
    site_id = _json(_request(site, headers=staff))[0]["id"]

    # The operator's staff see the simulated charger online, heard from just now.
    def online() -> Any:
        points = _json(_request(f"{site}/{site_id}/charge-points", headers=staff))
        up = [p for p in points if p["status"] == "online" and p["last_seen_at"]]
        return up or None

    (charger,) = _until(online, 60, "the hotel's simulated charger to be online")
    assert charger["ocpp_identity"] == "WP-HOTEL-01"

    # John, the hotel guest (operator-invoiced: no card needed), starts from the app on
    # connector 2, where the simulated car waits.
    john = next(d for d in creds["drivers"] if "hotel" in d["who"])
    driver = _login(platform, john["email"], john["password"])

    def connector_ready() -> bool:
        points = _json(_request(f"{site}/{site_id}/charge-points", headers=staff))
        return any(c["connector_id"] == 2 and c["status"] == "Preparing"
                   for c in points[0]["connectors"])  # fmt: skip

    _until(connector_ready, 60, "the waiting car on connector 2")
    status, _, body = _request(
        platform.base + "/me/sessions",
        {"charge_point_id": charger["id"], "connector_id": 2},
        headers=driver,
    )
    assert status == 201, body
    start = json.loads(body)
    assert start["billing_mode"] == "operator_invoiced"
    assert start["payment"] == "no_payment_needed"

    def started() -> Any:
        polled = _json(_request(f"{platform.base}/me/session-starts/{start['id']}", headers=driver))
        assert polled["status"] != "failed", polled
        return polled["session_id"]

    session_id = _until(started, 30, "the charger to report the session")
    live = _json(_request(f"{platform.base}/me/sessions/{session_id}", headers=driver))
    assert live["state"] in ("charging", "car_full") and live["ocpp_identity"] == "WP-HOTEL-01"
    mine = _json(_request(f"{platform.base}/me/sessions", headers=driver))
    assert [s["id"] for s in mine] == [session_id]
    listed = _json(_request(f"{platform.base}/operators/{hotel['operator_id']}/sessions",
                            headers=staff))  # fmt: skip
    assert session_id in [s["id"] for s in listed]

    # The driver stops it from the app: the charger takes the RemoteStop.
    status, _, body = _request(f"{platform.base}/me/sessions/{session_id}/stop", {}, headers=driver)
    assert status == 200, body

    def stopped() -> bool:
        now = _json(_request(f"{platform.base}/me/sessions/{session_id}", headers=driver))
        return now["status"] != "active"

    _until(stopped, 30, "the session to stop")
    platform.process.send_signal(signal.SIGTERM)
    assert platform.process.wait(STOP_TIMEOUT) == 0
    _, err = platform.output()
    assert "Traceback" not in err
