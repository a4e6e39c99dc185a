"""Payment settings: the embedded default needs nothing, Stripe needs all three keys, holds
per currency come from the environment, and no key ever reaches a log line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from backend import config
from backend.adapters.stripe_gateway import StripeGateway, make_gateway
from backend.config import Settings

NAMES = (
    "STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE",
    "HOLD_AMOUNT_PLN", "HOLD_AMOUNT_NOK", "HOLD_AMOUNT_EUR", "LOCALSTRIPE_PORT",
)  # fmt: skip


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(config, "VAR_DIR", tmp_path / "var")


def test_the_embedded_default_is_localstripe_with_a_derived_webhook_secret():
    s = Settings.from_env(secret_key="k" * 40)
    assert s.payments_local and s.stripe_publishable_key == "pk_test_localstripe"
    assert s.stripe_webhook_secret == config.local_webhook_secret("k" * 40)
    assert (
        Settings.from_env(secret_key="other" * 8).stripe_webhook_secret != s.stripe_webhook_secret
    )
    assert {c: s.hold_amount(c) for c in ("PLN", "NOK", "EUR")} == {
        "PLN": Decimal("100.00"), "NOK": Decimal("300.00"), "EUR": Decimal("25.00"),
    }  # fmt: skip
    # No localstripe address known: calls fail as "unavailable", never reach Stripe.
    gw = make_gateway(s)
    assert isinstance(gw, StripeGateway) and gw.api_base == "http://127.0.0.1:9"


def test_stripe_needs_its_publishable_key_and_webhook_secret(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_abc123")
    with pytest.raises(ValueError, match="STRIPE_PUBLISHABLE_KEY"):
        Settings.from_env(secret_key="k" * 40)
    monkeypatch.setenv("STRIPE_PUBLISHABLE_KEY", "pk_live_abc")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_abc")
    s = Settings.from_env(secret_key="k" * 40)
    assert not s.payments_local
    assert make_gateway(s).api_base == "https://api.stripe.com"


def test_holds_are_configurable_exact_and_positive(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOLD_AMOUNT_NOK", "450.50")
    assert Settings.from_env(secret_key="k" * 40).hold_amount("NOK") == Decimal("450.50")
    monkeypatch.setenv("HOLD_AMOUNT_NOK", "0")
    with pytest.raises(ValueError, match="HOLD_AMOUNT"):
        Settings.from_env(secret_key="k" * 40)
    monkeypatch.setenv("HOLD_AMOUNT_NOK", "lots")
    with pytest.raises(ValueError, match="HOLD_AMOUNT_NOK"):
        Settings.from_env(secret_key="k" * 40)


def test_no_stripe_secret_in_any_printout():
    s = Settings(
        database_url="sqlite://", secret_key="k" * 40, stripe_secret_key="sk_live_TOPSECRET",
        stripe_publishable_key="pk_live_x", stripe_webhook_secret="whsec_HUSH",
    )  # fmt: skip
    gw = make_gateway(s)
    for text in (repr(s), str(s), repr(gw), str(gw)):
        assert "TOPSECRET" not in text and "HUSH" not in text
    assert "payments=stripe" in repr(s)
