"""The bridge's settings, read from the environment in one place (like backend.config).

| variable | default | meaning |
|---|---|---|
| WATTPASS_OCPP_HOST / WATTPASS_OCPP_PORT | 127.0.0.1 / 9000 | where chargers connect |
| WATTPASS_OCPP_TLS_CERT / WATTPASS_OCPP_TLS_KEY | unset | PEM paths: wss:// (security profile 2) |
| WATTPASS_OCPP_HEARTBEAT_S | 10 | heartbeat interval told to chargers at boot |
| WATTPASS_OCPP_BOOT_RETRY_S | 60 | when a Pending/Rejected charger should boot again |
| WATTPASS_OCPP_COMMAND_TIMEOUT_S | 30 | default wait for a charger's answer to a command |
| WATTPASS_OCPP_CAR_FULL_W / _SAMPLES | 100 / 2 | car full: power below W for that many samples |
| WATTPASS_OCPP_UNPLUG_WAIT_H | 24 | a stopped session ends without an unplug after this |
| WATTPASS_OCPP_DB_THREADS | 8 | threads doing database work off the event loop |
| WATTPASS_OCPP_VALIDATE_SCHEMAS | 1 | 0 skips JSON-schema validation of incoming calls |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from backend.services.session_meters import SessionRules


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass(frozen=True)
class BridgeSettings:
    host: str = "127.0.0.1"
    port: int = 9000  # 0: any free port (tests); `Bridge.port` tells which
    tls_cert: str | None = None
    tls_key: str | None = None
    heartbeat_interval_s: int = 10
    boot_retry_s: int = 60
    command_timeout_s: float = 30.0
    rules: SessionRules = field(default_factory=SessionRules)
    unplug_wait: timedelta = timedelta(hours=24)
    db_threads: int = 8
    auth_threads: int = 2  # argon2 is CPU-bound: a few threads, so DB work never queues
    auth_cache_size: int = 20_000
    writer_max_batch: int = 2_000
    writer_max_delay_s: float = 0.003  # gather a batch this long after its first row
    last_seen_flush_s: float = 5.0
    housekeeping_s: float = 30.0  # outbox retries, overdue unplugs
    validate_schemas: bool = True
    ping_interval_s: float | None = 20.0
    ping_timeout_s: float | None = 20.0

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert)

    def __post_init__(self) -> None:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("Set both WATTPASS_OCPP_TLS_CERT and _TLS_KEY, or neither")
        if self.heartbeat_interval_s < 1 or self.command_timeout_s <= 0:
            raise ValueError("Heartbeat interval and command timeout must be positive")

    @classmethod
    def from_env(cls, **overrides: object) -> BridgeSettings:
        rules = SessionRules(
            car_full_power_w=Decimal(_env("WATTPASS_OCPP_CAR_FULL_W", "100")),
            car_full_samples=int(_env("WATTPASS_OCPP_CAR_FULL_SAMPLES", "2")),
        )
        values: dict[str, object] = {
            "host": _env("WATTPASS_OCPP_HOST", "127.0.0.1"),
            "port": int(_env("WATTPASS_OCPP_PORT", "9000")),
            "tls_cert": os.environ.get("WATTPASS_OCPP_TLS_CERT") or None,
            "tls_key": os.environ.get("WATTPASS_OCPP_TLS_KEY") or None,
            "heartbeat_interval_s": int(_env("WATTPASS_OCPP_HEARTBEAT_S", "10")),
            "boot_retry_s": int(_env("WATTPASS_OCPP_BOOT_RETRY_S", "60")),
            "command_timeout_s": float(_env("WATTPASS_OCPP_COMMAND_TIMEOUT_S", "30")),
            "rules": rules,
            "unplug_wait": timedelta(hours=float(_env("WATTPASS_OCPP_UNPLUG_WAIT_H", "24"))),
            "db_threads": int(_env("WATTPASS_OCPP_DB_THREADS", "8")),
            "validate_schemas": _env("WATTPASS_OCPP_VALIDATE_SCHEMAS", "1") != "0",
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
