"""STRIPE_CONNECT_PAYOUTS: Connect transfers only with a real Stripe key, bank transfers
otherwise (localstripe has no Connect)."""

from __future__ import annotations

import pytest

from backend.adapters.stripe_payouts import StripePayouts, make_payout_gateway
from backend.config import Settings

KEYS = {
    "stripe_secret_key": "sk_test_" + "k" * 24,
    "stripe_publishable_key": "pk_test_x",
    "stripe_webhook_secret": "whsec_x",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STRIPE_SECRET_KEY", "STRIPE_CONNECT_PAYOUTS", "STRIPE_API_BASE"):
        monkeypatch.delenv(name, raising=False)


def settings(**kw: object) -> Settings:
    return Settings.from_env(database_url="sqlite://", secret_key="s" * 40, **kw)


def test_default_is_bank_transfers_on_localstripe_and_connect_on_stripe() -> None:
    local = settings()
    assert local.stripe_connect_payouts is False and make_payout_gateway(local) is None
    real = settings(**KEYS)
    assert real.stripe_connect_payouts is True
    gw = make_payout_gateway(real)
    assert isinstance(gw, StripePayouts) and "sk_test" not in repr(gw)


@pytest.mark.parametrize(("raw", "value"), [("true", True), ("FALSE", False), ("", True)])
def test_the_variable_turns_connect_on_or_off_with_a_key(monkeypatch, raw, value) -> None:
    monkeypatch.setenv("STRIPE_CONNECT_PAYOUTS", raw)
    s = settings(**KEYS)
    assert s.stripe_connect_payouts is value
    assert (make_payout_gateway(s) is not None) is value


def test_connect_without_a_key_or_a_bad_value_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("STRIPE_CONNECT_PAYOUTS", "true")
    with pytest.raises(ValueError, match="STRIPE_SECRET_KEY"):
        settings()
    monkeypatch.setenv("STRIPE_CONNECT_PAYOUTS", "yes please")
    with pytest.raises(ValueError, match="true or false"):
        settings(**KEYS)
