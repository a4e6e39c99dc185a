"""Charger operations on a bridge: health monitoring, firmware campaigns and (with
Redis) command routing, wired onto a `Bridge` through its extension points — the
registry and the listeners.

    bridge = build_bridge(settings, factory, clock=clock)
    ops = Operations.from_env(bridge)          # or Operations(bridge, OperationsSettings(…))
    await bridge.start()
    await ops.start()
    gateway = ops.local_gateway()              # embedded run: hand it to the API container
    …
    await ops.close()
    await bridge.close()

Environment (besides the bridge's own, ocpp_bridge/config.py):

| variable | default | meaning |
|---|---|---|
| REDIS_URL | unset | route commands through Redis (production shape); unset: in-process only |
| WATTPASS_OCPP_NODE_ID | host-pid | this node's name in Redis |
| WATTPASS_OCPP_ROUTE_TTL_S | 30 | a killed node's chargers are offline after this |
| WATTPASS_OCPP_ROUTE_PREFIX | wattpass:ocpp: | Redis key prefix (the API's gateway uses the same) |
| WATTPASS_HEALTH_SETTLE_S | 120 | a reset's time to reboot and report before it is judged |
| WATTPASS_HEALTH_MAX_RESETS | 6 | automatic resets per charger per 24 h |
| WATTPASS_HEALTH_BACKOFF_S | 600 | wait before the 2nd ladder; doubles each time |
| WATTPASS_FIRMWARE_RETRY_S | 300 | wait before retrying a failed firmware update |
| WATTPASS_FIRMWARE_TIMEOUT_S | 3600 | an update with no progress this long has failed |

The monitoring interval is the bridge's heartbeat interval (WATTPASS_OCPP_HEARTBEAT_S).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta

from backend.adapters.gateway_redis import DEFAULT_PREFIX
from backend.services.charger_health import MISSED_HEARTBEATS, HealthPolicy, OperatorAlerts
from backend.services.firmware_jobs import FirmwareRules
from ocpp_bridge.bootstrap import Bridge
from ocpp_bridge.firmware import DbFirmwareStore, FirmwareManager
from ocpp_bridge.gateway_local import LocalChargerGateway
from ocpp_bridge.health import DbHealthStore, HealthMonitor
from ocpp_bridge.persistence import Database
from ocpp_bridge.routing import RedisRouting, default_node_id


def _seconds(name: str, default: float) -> timedelta:
    return timedelta(seconds=float(os.environ.get(name) or default))


@dataclass(frozen=True)
class OperationsSettings:
    interval_s: float = 10.0  # health and firmware rounds: the heartbeat interval
    debounce_s: float = 1.0
    policy: HealthPolicy = field(default_factory=HealthPolicy)
    firmware: FirmwareRules = field(default_factory=FirmwareRules)
    redis_url: str | None = None
    node_id: str = ""
    route_ttl_s: float = 30.0
    redis_prefix: str = DEFAULT_PREFIX

    @classmethod
    def from_env(cls, interval_s: float, **overrides: object) -> OperationsSettings:
        values: dict[str, object] = {
            "interval_s": interval_s,
            "policy": HealthPolicy(
                settle=_seconds("WATTPASS_HEALTH_SETTLE_S", 120),
                max_resets_per_day=int(os.environ.get("WATTPASS_HEALTH_MAX_RESETS") or 6),
                backoff_base=_seconds("WATTPASS_HEALTH_BACKOFF_S", 600),
            ),
            "firmware": FirmwareRules(
                retry_delay=_seconds("WATTPASS_FIRMWARE_RETRY_S", 300),
                progress_timeout=_seconds("WATTPASS_FIRMWARE_TIMEOUT_S", 3600),
            ),
            "redis_url": os.environ.get("REDIS_URL") or None,
            "node_id": default_node_id(),
            "route_ttl_s": float(os.environ.get("WATTPASS_OCPP_ROUTE_TTL_S") or 30),
            "redis_prefix": os.environ.get("WATTPASS_OCPP_ROUTE_PREFIX") or DEFAULT_PREFIX,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


class Operations:
    def __init__(
        self, bridge: Bridge, settings: OperationsSettings, alerts: OperatorAlerts
    ) -> None:
        if MISSED_HEARTBEATS * settings.interval_s <= bridge.settings.last_seen_flush_s:
            # Last-heard times reach the database only every last_seen_flush_s: a shorter
            # silence limit would call healthy chargers offline.
            raise ValueError("three heartbeat intervals must exceed the last-seen flush period")
        self.bridge = bridge
        self.settings = settings
        # A small pool of its own: health and firmware work never queues behind the
        # bridge's meter stream, and exists before the bridge starts.
        self.db = Database(bridge.session_factory, 2)
        timeout = bridge.settings.command_timeout_s
        self.health = HealthMonitor(
            bridge.registry,
            DbHealthStore(self.db, settings.policy, alerts),
            bridge.clock,
            interval_s=settings.interval_s,
            debounce_s=settings.debounce_s,
            command_timeout_s=timeout,
        )
        self.firmware = FirmwareManager(
            bridge.registry,
            DbFirmwareStore(self.db, settings.firmware),
            bridge.clock,
            interval_s=settings.interval_s,
            command_timeout_s=timeout,
        )
        self.routing: RedisRouting | None = None
        if settings.redis_url:
            import redis.asyncio as aioredis

            self.routing = RedisRouting(
                aioredis.Redis.from_url(settings.redis_url),
                bridge.registry,
                settings.node_id or default_node_id(),
                prefix=settings.redis_prefix,
                ttl_s=settings.route_ttl_s,
            )
        # Listeners before the bridge starts: no charger's first events are missed.
        for listener in (self.routing, self.health, self.firmware):
            if listener is not None:
                bridge.listeners.add(listener)

    @classmethod
    def from_env(cls, bridge: Bridge, alerts: OperatorAlerts | None = None) -> Operations:
        settings = OperationsSettings.from_env(float(bridge.settings.heartbeat_interval_s))
        return cls(bridge, settings, alerts or staff_alerts(bridge))

    async def start(self) -> None:
        """After `bridge.start()`: the periodic tasks and the routed-command consumer."""
        if self.routing is not None:
            await self.routing.start()
        self.health.start()
        self.firmware.start()

    async def close(self) -> None:
        """Before `bridge.close()`."""
        await self.health.close()
        await self.firmware.close()
        if self.routing is not None:
            await self.routing.close()
        self.db.close()

    def local_gateway(self) -> LocalChargerGateway:
        """The in-process ChargerGateway for an API running in this process."""
        if self.bridge.loop is None:
            raise RuntimeError("start the bridge first: the gateway needs its event loop")
        return LocalChargerGateway(self.bridge.registry, self.bridge.loop)


def staff_alerts(bridge: Bridge) -> OperatorAlerts:
    """Alerts as notifications to the operator's staff, pushed the backend's way."""
    from backend.bootstrap import make_notifier
    from backend.config import Settings
    from backend.services.charger_alerts import StaffAlerts
    from backend.services.notifications import Notifications

    notifier = make_notifier(Settings.from_env(), bridge.session_factory, bridge.clock)
    return StaffAlerts(Notifications(notifier, bridge.clock))
