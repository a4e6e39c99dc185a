"""The baseline of bench/ocpp_bridge.py: a plain websockets JSON echo server that answers
an OCPP-shaped CALL with a CALLRESULT, and nothing else.

    .venv/bin/python bench/echo_baseline.py --port 9100

Same transport settings as the bridge (websockets 17 asyncio server, no compression, the
same ping settings, the OCPP subprotocols), same framing in and out: `[2, id, action,
payload]` in, `[3, id, payload]` out, with the payload a charger expects (BootNotification
Accepted, Heartbeat currentTime, `{}` for the rest). No authentication, no schema checks,
no database: what a central system costs at the very least in Python on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
from collections.abc import Sequence
from datetime import UTC, datetime

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

SUBPROTOCOLS = ("ocpp2.0.1", "ocpp1.6")


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def answer(action: str) -> dict[str, object]:
    if action == "Heartbeat":
        return {"currentTime": now_text()}
    if action == "BootNotification":
        return {"currentTime": now_text(), "interval": 10, "status": "Accepted"}
    return {}


async def handler(ws: ServerConnection) -> None:
    try:
        async for message in ws:
            frame = json.loads(message)
            if frame[0] == 2:
                await ws.send(json.dumps([3, frame[1], answer(frame[2])]))
    except ConnectionClosed:
        pass


def select_subprotocol(ws: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    for subprotocol in SUBPROTOCOLS:
        if subprotocol in offered:
            return Subprotocol(subprotocol)
    return None


async def main(host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serve(
        handler,
        host,
        port,
        select_subprotocol=select_subprotocol,
        compression=None,
        ping_interval=20.0,
        ping_timeout=20.0,
        open_timeout=30,
    ):
        print(f"echo baseline listening on {host}:{port}", flush=True)
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(args.host, args.port))
