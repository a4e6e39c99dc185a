"""`python -m ocpp_bridge` as a deployable: serves chargers from DATABASE_URL on the
given port, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

from ocpp.v16 import call as c16
from websockets.asyncio.client import connect

from backend.db.models import ChargePoint
from tests import factories as f
from tests.integration.bridge_harness import Client16, basic, run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError("the bridge did not start listening")


def test_python_m_ocpp_bridge_serves_and_stops_on_sigterm(container, session, pg_url) -> None:  # type: ignore[no-untyped-def]
    cp = f.charge_point(session, f.site(session, f.operator(session)))
    password = f.charger_password(session, cp)
    session.commit()
    port = _free_port()
    env = os.environ | {
        "DATABASE_URL": pg_url,
        "SECRET_KEY": "bridge-test-" + "x" * 40,
        "WATTPASS_OCPP_HEARTBEAT_S": "15",
    }
    proc = subprocess.Popen(  # noqa: S603 (our own module, fixed arguments)
        [sys.executable, "-m", "ocpp_bridge", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_listening(port, proc)

        async def boot() -> str:
            url = f"ws://127.0.0.1:{port}/ocpp/{cp.ocpp_identity}"
            headers = {"Authorization": basic(cp.ocpp_identity, password)}
            async with connect(url, subprotocols=["ocpp1.6"], additional_headers=headers) as ws:  # type: ignore[list-item]
                charger = Client16(cp.ocpp_identity, ws)
                task = asyncio.create_task(charger.start())
                answer = await charger.call(
                    c16.BootNotification(charge_point_vendor="Acme", charge_point_model="X"),
                    suppress=False,
                )
                task.cancel()
                return f"{answer.status}/{answer.interval}"

        assert run(boot()) == "Accepted/15"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with container.session_factory() as s:
        assert s.get(ChargePoint, cp.id).status == "offline"  # type: ignore[union-attr]
