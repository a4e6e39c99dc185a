"""`python -m tests.integration.bridge_node [--port P]`: a bridge node for the routing
tests, run the way `python -m ocpp_bridge` runs one, plus the charger operations
(health, firmware, Redis routing: `Operations.from_env`) wired as the wiring
instructions of issue 4 ask ocpp_bridge/__main__.py to do. Prints `READY <url>` once
chargers can connect; stops on SIGTERM, dies at once on SIGKILL (what the tests do to
"kill a node")."""

from __future__ import annotations

import argparse
import asyncio
import signal

from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.services.charger_health import NoAlerts
from ocpp_bridge.bootstrap import build_bridge
from ocpp_bridge.config import BridgeSettings
from ocpp_bridge.operations import Operations


async def run(port: int) -> None:
    engine = make_engine(Settings.from_env().database_url)
    bridge = build_bridge(BridgeSettings.from_env(port=port), make_session_factory(engine))
    ops = Operations.from_env(bridge, alerts=NoAlerts())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await bridge.start()
    await ops.start()
    print("READY", bridge.url, flush=True)
    try:
        await stop.wait()
    finally:
        await ops.close()
        await bridge.close()
        engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(run(parser.parse_args().port))
