"""The bridge's settings from the environment: defaults, overrides, refusals."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from ocpp_bridge.config import BridgeSettings


def test_defaults_are_the_local_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOST", "PORT", "TLS_CERT", "TLS_KEY", "HEARTBEAT_S", "CAR_FULL_W"):
        monkeypatch.delenv(f"WATTPASS_OCPP_{name}", raising=False)
    settings = BridgeSettings.from_env()
    assert (settings.host, settings.port, settings.heartbeat_interval_s) == ("127.0.0.1", 9000, 10)
    assert not settings.tls and settings.rules.car_full_power_w == Decimal(100)


def test_the_environment_and_the_command_line_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATTPASS_OCPP_PORT", "9100")
    monkeypatch.setenv("WATTPASS_OCPP_HEARTBEAT_S", "30")
    monkeypatch.setenv("WATTPASS_OCPP_CAR_FULL_W", "150")
    monkeypatch.setenv("WATTPASS_OCPP_UNPLUG_WAIT_H", "12")
    monkeypatch.setenv("WATTPASS_OCPP_TLS_CERT", "/etc/wattpass/cert.pem")
    monkeypatch.setenv("WATTPASS_OCPP_TLS_KEY", "/etc/wattpass/key.pem")
    settings = BridgeSettings.from_env(port=9200)
    assert settings.port == 9200 and settings.heartbeat_interval_s == 30
    assert settings.rules.car_full_power_w == Decimal(150)
    assert settings.unplug_wait == timedelta(hours=12) and settings.tls


def test_half_a_tls_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="TLS"):
        BridgeSettings(tls_cert="/etc/cert.pem")
    with pytest.raises(ValueError, match="positive"):
        BridgeSettings(heartbeat_interval_s=0)
