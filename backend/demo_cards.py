"""Stripe's test Visa for the demo drivers of the embedded run (localstripe only).

Without a card every RFID session of the simulated chargers ends "payment_failed", so
the demo would never show a paid session, a receipt or revenue in a settlement. Each
demo driver without an active card gets `pm_card_visa` attached, the way Stripe's test
mode allows without a card number passing through us, then recorded by `sync_cards`.

Only on a localstripe on loopback with no Stripe key at all: a live key must never get
demo cards, and an `sk_test_` key is someone's real test account.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.db.models import User
from backend.db.models.payments import PaymentCustomer
from backend.demo_data import DRIVERS
from backend.services import cards
from backend.services.payment_gateway import PaymentGateway, ProviderObjectMissing

log = logging.getLogger("wattpass.demo")

DEMO_CARD = "pm_card_visa"  # Stripe's test Visa 4242, known to Stripe and localstripe
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def allowed(settings: Settings) -> bool:
    """No Stripe key, and payments go to a localstripe on this machine."""
    host = urllib.parse.urlsplit(settings.stripe_api_base or "").hostname
    return settings.payments_local and host in LOOPBACK


def give_demo_cards(
    settings: Settings, session_factory: Callable[[], Session], gw: PaymentGateway, now: datetime
) -> int:
    """Give each demo driver without an active card the test Visa; returns how many got
    one (0 on the second run). One driver's failure does not keep the others' cards."""
    if not allowed(settings):
        return 0
    given = 0
    with session_factory() as s:
        for spec in DRIVERS:
            user_id = s.scalar(select(User.id).where(func.lower(User.email) == spec.email.lower()))
            if user_id is None:
                continue
            try:
                given += _give(s, gw, user_id, now)
            except Exception as exc:  # a demo nicety: say so and go on
                s.rollback()
                log.warning("demo card for %s not given: %s: %s", spec.key, type(exc).__name__, exc)
    return given


def _give(s: Session, gw: PaymentGateway, driver_id: int, now: datetime) -> int:
    _forget_lost_customer(s, gw, driver_id)
    if cards.sync_cards(s, gw, driver_id, now):  # has a card at localstripe already
        return 0
    gw.attach_card(DEMO_CARD, cards.customer_id(s, gw, driver_id))
    cards.sync_cards(s, gw, driver_id, now)  # recorded, and made the default
    return 1


def _forget_lost_customer(s: Session, gw: PaymentGateway, driver_id: int) -> None:
    """A customer the database remembers but localstripe does not (its state file was
    deleted, or var/ predates it) is dropped, so the driver gets a new one."""
    row = s.get(PaymentCustomer, driver_id)
    if row is None:
        return
    try:
        gw.default_card_id(row.stripe_customer_id)
    except ProviderObjectMissing:
        s.delete(row)
        s.commit()


class DemoCards:
    """A `backend.server.Component` that gives the cards once, right after localstripe
    started and before the simulated chargers badge in."""

    name = "demo-cards"

    def __init__(self, settings: Settings, container: Any) -> None:
        self.settings = settings
        self.container = container
        self.given: int | None = None

    def start(self) -> None:
        c = self.container
        try:
            self.given = give_demo_cards(self.settings, c.session_factory, c.payments, c.clock())
        except Exception as exc:  # never stops the run
            log.warning("demo cards not given: %s: %s", type(exc).__name__, exc)

    def stop(self) -> None:
        """Nothing runs after start."""

    def alive(self) -> bool:
        return True

    def banner(self) -> list[str]:
        if self.given is None or not allowed(self.settings):
            return []
        return ["Demo cards     demo drivers pay with Stripe's test Visa •••• 4242"]
