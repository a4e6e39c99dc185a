"""The demo drivers' test Visa in the embedded run: on the SQLite default with the demo
data and a localstripe, every demo driver ends with exactly one default Visa 4242, a
second start adds nothing, a lost localstripe state is repaired, and no Stripe key —
live or test — ever gets a demo card."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from backend import demo
from backend.adapters.fake_payouts import FakePayouts
from backend.adapters.stripe_gateway import make_gateway
from backend.bootstrap import Container, bootstrap
from backend.cli import migrate
from backend.config import Settings
from backend.db.models import User
from backend.db.models.payments import PaymentCard, PaymentCustomer
from backend.demo_cards import DemoCards, give_demo_cards
from backend.demo_data import DRIVERS
from tests.payments_fixtures import StripeEnv

SECRET = "demo-cards-secret-" + "x" * 32
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def local(tmp_path: Path, stripe_env: StripeEnv) -> Settings:
    """`wattpass run`'s settings: SQLite, no Stripe key, payments on a loopback localstripe."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'embedded.db'}", secret_key=SECRET)
    migrate(settings)
    return stripe_env.settings_for(settings)


@pytest.fixture
def container(local: Settings) -> Iterator[Container]:
    c = bootstrap(local, clock=lambda: NOW, payouts=FakePayouts())
    demo.load_demo(c.session_factory, NOW, SECRET)
    yield c
    c.close()


def _give(settings: Settings, c: Container) -> int:
    return give_demo_cards(settings, c.session_factory, c.payments, NOW)


def _cards(c: Container) -> dict[str, list[PaymentCard]]:
    with c.session_factory() as s:
        out: dict[str, list[PaymentCard]] = {}
        for spec in DRIVERS:
            uid = s.scalar(select(User.id).where(func.lower(User.email) == spec.email.lower()))
            out[spec.key] = list(
                s.scalars(
                    select(PaymentCard).where(
                        PaymentCard.driver_id == uid, PaymentCard.removed_at.is_(None)
                    )
                )
            )
        return out


def _customers(c: Container) -> dict[int, str]:
    with c.session_factory() as s:
        return {r.driver_id: r.stripe_customer_id for r in s.scalars(select(PaymentCustomer))}


def test_every_demo_driver_gets_one_default_test_visa(local: Settings, container: Any) -> None:
    assert _give(local, container) == len(DRIVERS)
    for key, cards in _cards(container).items():
        assert len(cards) == 1, key
        [card] = cards
        assert (card.brand, card.last4, card.is_default) == ("visa", "4242", True), key
    for cid in _customers(container).values():  # and localstripe agrees
        [at_stripe] = container.payments.list_cards(cid)
        assert container.payments.default_card_id(cid) == at_stripe.payment_method_id


def test_a_second_start_adds_nothing(local: Settings, container: Any) -> None:
    _give(local, container)
    first = {k: [c.stripe_payment_method_id for c in v] for k, v in _cards(container).items()}
    customers = _customers(container)
    assert _give(local, container) == 0
    again = {k: [c.stripe_payment_method_id for c in v] for k, v in _cards(container).items()}
    assert again == first
    assert _customers(container) == customers
    for cid in customers.values():
        assert len(container.payments.list_cards(cid)) == 1


def test_a_lost_localstripe_state_gets_new_customers_and_cards(
    local: Settings, container: Any, stripe_env: StripeEnv
) -> None:
    _give(local, container)
    before = _customers(container)
    stripe_env.server.wipe()  # what a deleted state file (or var/ from before it) means
    assert _give(local, container) == len(DRIVERS)
    after = _customers(container)
    assert after.keys() == before.keys()
    assert not set(after.values()) & set(before.values())
    for key, cards in _cards(container).items():
        assert [(c.last4, c.is_default) for c in cards] == [("4242", True)], key


@pytest.mark.parametrize("key", ["sk_live_x", "sk_test_x"])
def test_a_stripe_key_never_gets_demo_cards(local: Settings, container: Any, key: str) -> None:
    # The gateway would reach localstripe; the settings alone must say no.
    keyed = dataclasses.replace(
        local, stripe_secret_key=key, stripe_publishable_key="pk_x", stripe_webhook_secret="whsec_x"
    )
    assert _give(keyed, container) == 0
    assert all(cards == [] for cards in _cards(container).values())
    assert _customers(container) == {}


def test_an_unreachable_localstripe_is_a_warning_not_a_stop(
    local: Settings, container: Any, caplog: pytest.LogCaptureFixture
) -> None:
    closed = dataclasses.replace(local, stripe_api_base="http://127.0.0.1:9")  # nothing there
    component = DemoCards(closed, _with_gateway(container, closed))
    with caplog.at_level(logging.WARNING, logger="wattpass.demo"):
        component.start()
    assert component.alive()
    assert any("not given" in r.getMessage() for r in caplog.records)
    assert all(cards == [] for cards in _cards(container).values())


def _with_gateway(c: Container, settings: Settings) -> Any:
    return dataclasses.replace(c, payments=make_gateway(settings))
