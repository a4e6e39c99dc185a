"""`python -m ocpp_bridge [--host H] [--port P]`: run the OCPP central system alone.

Settings come from the environment (ocpp_bridge/config.py; DATABASE_URL as for the
backend); the options override host and port.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal

from backend.bootstrap import bootstrap
from backend.config import Settings
from backend.services.charger_alerts import StaffAlerts
from ocpp_bridge.bootstrap import build_bridge
from ocpp_bridge.config import BridgeSettings
from ocpp_bridge.operations import Operations


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ocpp_bridge", description=__doc__)
    parser.add_argument("--host", help="listen address (WATTPASS_OCPP_HOST)")
    parser.add_argument("--port", type=int, help="listen port (WATTPASS_OCPP_PORT)")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = BridgeSettings.from_env(**overrides)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # The ocpp library logs every frame at INFO: thousands of lines a second at scale.
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    asyncio.run(_run(settings))


async def _run(settings: BridgeSettings) -> None:
    # The backend's wiring: ended sessions are billed (payments, receipts, notices) and
    # charger alerts go to the operator's staff, the same way the API process does it.
    container = bootstrap(Settings.from_env())
    bridge = build_bridge(
        settings, container.session_factory, session_ended_port=container.session_ended
    )
    # Health monitoring, firmware campaigns and, with REDIS_URL, command routing.
    ops = Operations.from_env(bridge, alerts=StaffAlerts(container.notifications))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await bridge.start()
        await ops.start()
        _tune_garbage_collector()
        # Supervisors and tests wait for this line before sending chargers here.
        print("READY", bridge.url, flush=True)
        await stop.wait()
    finally:
        # Operations first: they use the bridge's connections and database threads.
        await ops.close()
        await bridge.close()
        container.close()


def _tune_garbage_collector() -> None:
    """Meter batches live just long enough to be promoted, so at 2,000 chargers the
    default thresholds ran a full collection every second, each pausing the event loop
    for ~200 ms (bench/ocpp_bridge.py, docs/benchmarks.md). Objects made at start-up are
    frozen out of collection and young generations collected less often."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


if __name__ == "__main__":
    main()
