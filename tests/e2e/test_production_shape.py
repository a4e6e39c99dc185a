"""The production image's command, run here without Docker: `wattpass migrate`, then
gunicorn exactly as infra/Dockerfile starts it (bound to loopback instead of 0.0.0.0)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.unit.test_infra import dockerfile_cmd

SECRET_KEY = "prod-shape-signing-key-" + "q" * 32


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_gunicorn_serves_the_api_with_the_dockerfile_command(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}",
        "SECRET_KEY": SECRET_KEY,
        "WATTPASS_VAR_DIR": str(tmp_path / "var"),
        "WEB_CONCURRENCY": "1",
    }
    env.pop("REDIS_URL", None)
    subprocess.run(
        [sys.executable, "-m", "backend.cli", "migrate"], env=env, check=True, timeout=120
    )

    port = _free_port()
    cmd = dockerfile_cmd()
    cmd[cmd.index("--bind") + 1] = f"127.0.0.1:{port}"
    cmd[0] = str(Path(sys.executable).with_name("gunicorn"))
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen(  # noqa: S603 - fixed command from infra/Dockerfile
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        deadline = time.monotonic() + 60
        body = b""
        while time.monotonic() < deadline and server.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/health?probe=query-secret"
                with urllib.request.urlopen(url, timeout=5) as resp:
                    body = resp.read()
                break
            except OSError:
                time.sleep(0.25)
        assert b'"status":"ok"' in body.replace(b" ", b""), log.read_text()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            pytest.fail("gunicorn did not stop within 30 s of SIGTERM")
    text = log.read_text()
    assert code == 0, text
    assert '"GET /health" 200' in text  # the access log line of the Dockerfile's format
    assert "query-secret" not in text
    assert SECRET_KEY not in text
