"""Saved cards: a Stripe Customer per driver, SetupIntents for the app, cards recorded.

Card numbers never pass through the backend: the app confirms the SetupIntent at the
processor with the publishable key. The backend learns of the card from the
`setup_intent.succeeded` webhook *or* by re-reading Stripe (webhooks may be late):
both land in `sync_cards`, which makes our list match Stripe's.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import User
from backend.db.models.payments import CardSetup, PaymentCard, PaymentCustomer
from backend.errors import NotFound
from backend.services.payment_gateway import (
    CardDeclined,
    CardInfo,
    PaymentGateway,
    PaymentProviderUnavailable,
    ProviderObjectMissing,
)
from backend.services.visibility import valid_id

log = logging.getLogger("wattpass.payments")

SETUP_FINAL = {"succeeded", "canceled"}


@dataclass(frozen=True)
class CardSetupStart:
    setup_intent_id: str
    client_secret: str
    publishable_key: str
    api_base: str | None


def customer_id(s: Session, gw: PaymentGateway, driver_id: int) -> str:
    """The driver's Stripe Customer, created (or found again) the first time."""
    row = s.get(PaymentCustomer, driver_id)
    if row is not None:
        return row.stripe_customer_id
    user = s.get(User, driver_id)
    if user is None:
        raise NotFound("No such driver.")
    # A customer created before a crash is found by its metadata rather than duplicated.
    cid = gw.find_customer(user.email, driver_id) or gw.create_customer(
        user.email, driver_id, f"wp-customer-{driver_id}"
    )
    s.add(PaymentCustomer(driver_id=driver_id, stripe_customer_id=cid))
    try:
        s.commit()
    except IntegrityError:  # a concurrent request recorded it first
        s.rollback()
        row = s.get(PaymentCustomer, driver_id)
        if row is None:
            raise
        return row.stripe_customer_id
    return cid


def start_setup(s: Session, gw: PaymentGateway, driver_id: int) -> CardSetupStart:
    """A SetupIntent the app confirms with the card details (off-session use allowed)."""
    cid = customer_id(s, gw, driver_id)
    count = len(s.scalars(select(CardSetup.id).where(CardSetup.driver_id == driver_id)).all())
    setup = gw.create_setup_intent(cid, f"wp-setup-{driver_id}-{count + 1}")
    s.add(
        CardSetup(driver_id=driver_id, setup_intent_id=setup.setup_intent_id, status=setup.status)
    )
    s.commit()
    return CardSetupStart(
        setup.setup_intent_id, setup.client_secret, gw.publishable_key, gw.app_api_base
    )


def active_cards(s: Session, driver_id: int) -> list[PaymentCard]:
    return list(
        s.scalars(
            select(PaymentCard)
            .where(PaymentCard.driver_id == driver_id, PaymentCard.removed_at.is_(None))
            .order_by(
                PaymentCard.is_default.desc(), PaymentCard.created_at.desc(), PaymentCard.id.desc()
            )
        )
    )


def default_card(s: Session, driver_id: int) -> PaymentCard | None:
    cards = active_cards(s, driver_id)
    return next((c for c in cards if c.is_default), cards[0] if cards else None)


def _own_card(s: Session, driver_id: int, card_id: int) -> PaymentCard:
    # An id beyond the schema's 32 bits names nothing and must not reach the database.
    card = s.get(PaymentCard, card_id) if valid_id(card_id) else None
    if card is None or card.driver_id != driver_id or card.removed_at is not None:
        raise NotFound("No such card.")
    return card


def _settle_setups(s: Session, gw: PaymentGateway, driver_id: int, cid: str) -> None:
    pending = s.scalars(
        select(CardSetup).where(
            CardSetup.driver_id == driver_id, CardSetup.status.not_in(SETUP_FINAL)
        )
    ).all()
    for setup in pending:
        try:
            info = gw.get_setup_intent(setup.setup_intent_id)
        except ProviderObjectMissing:
            setup.status = "canceled"
            continue
        setup.status = info.status
        if info.status != "succeeded" or not info.payment_method_id:
            continue
        card = gw.get_card(info.payment_method_id)
        if card.customer_id != cid:
            # Stripe attaches a card confirmed on a customer's SetupIntent; localstripe
            # does not, so attach it here (a no-op where Stripe already did).
            try:
                gw.attach_card(info.payment_method_id, cid)
            except CardDeclined:
                setup.status = "canceled"


def sync_cards(s: Session, gw: PaymentGateway, driver_id: int, now: datetime) -> list[PaymentCard]:
    """Make our card list what Stripe says it is: new cards recorded, detached ones
    removed, and exactly one default (Stripe's invoice default, set if missing)."""
    cid = customer_id(s, gw, driver_id)
    _settle_setups(s, gw, driver_id, cid)
    at_stripe = {c.payment_method_id: c for c in gw.list_cards(cid)}
    rows = {
        c.stripe_payment_method_id: c
        for c in s.scalars(select(PaymentCard).where(PaymentCard.driver_id == driver_id))
    }
    for pm, info in at_stripe.items():
        row = rows.get(pm)
        if row is None:
            row = PaymentCard(driver_id=driver_id, stripe_payment_method_id=pm, is_default=False)
            s.add(row)
            rows[pm] = row
        _copy(row, info)
        row.removed_at = None
    for pm, row in rows.items():
        if pm not in at_stripe and row.removed_at is None:
            row.removed_at, row.is_default = now, False
    s.flush()
    _align_default(s, gw, cid, driver_id, gw.default_card_id(cid))
    s.commit()
    return active_cards(s, driver_id)


def _copy(row: PaymentCard, info: CardInfo) -> None:
    row.brand, row.last4 = info.brand, info.last4
    row.exp_month, row.exp_year = info.exp_month, info.exp_year


def _align_default(
    s: Session, gw: PaymentGateway, cid: str, driver_id: int, stripe_default: str | None
) -> None:
    cards = active_cards(s, driver_id)
    chosen = next((c for c in cards if c.stripe_payment_method_id == stripe_default), None)
    if chosen is None and cards:
        # Keep the driver's choice if the card is still there, else the newest card.
        chosen = next((c for c in cards if c.is_default), None) or max(
            cards, key=lambda c: (c.created_at, c.id)
        )
        gw.set_default_card(cid, chosen.stripe_payment_method_id)
    for c in cards:
        c.is_default = c is chosen


def list_cards(s: Session, gw: PaymentGateway, driver_id: int, now: datetime) -> list[PaymentCard]:
    """The driver's cards, re-read from Stripe; if Stripe is unreachable, what we know."""
    try:
        return sync_cards(s, gw, driver_id, now)
    except PaymentProviderUnavailable:
        s.rollback()
        log.warning("cards of driver %s served from the database: Stripe unavailable", driver_id)
        return active_cards(s, driver_id)


def record_setup(s: Session, gw: PaymentGateway, setup_intent_id: str, now: datetime) -> bool:
    """Webhook `setup_intent.*`: sync the cards of the driver whose setup it is."""
    setup = s.scalar(select(CardSetup).where(CardSetup.setup_intent_id == setup_intent_id))
    driver_id = setup.driver_id if setup else None
    if driver_id is None:
        info = gw.get_setup_intent(setup_intent_id)
        owner = s.scalar(
            select(PaymentCustomer).where(PaymentCustomer.stripe_customer_id == info.customer_id)
        )
        if owner is None:
            return False
        driver_id = owner.driver_id
        s.add(CardSetup(driver_id=driver_id, setup_intent_id=setup_intent_id, status="unknown"))
        s.flush()
    sync_cards(s, gw, driver_id, now)
    return True


def set_default(s: Session, gw: PaymentGateway, driver_id: int, card_id: int) -> PaymentCard:
    card = _own_card(s, driver_id, card_id)
    gw.set_default_card(customer_id(s, gw, driver_id), card.stripe_payment_method_id)
    for c in active_cards(s, driver_id):
        c.is_default = c.id == card.id
    s.commit()
    return card


def remove_card(
    s: Session, gw: PaymentGateway, driver_id: int, card_id: int, now: datetime
) -> None:
    """Detach the card at Stripe and forget it (kept for payment history). Another card
    becomes the default, so plans and monthly billing go on."""
    card = _own_card(s, driver_id, card_id)
    with contextlib.suppress(ProviderObjectMissing):  # already gone: forget it here too
        gw.detach_card(card.stripe_payment_method_id)
    was_default = card.is_default
    card.removed_at, card.is_default = now, False
    s.flush()
    if was_default:
        cid = customer_id(s, gw, driver_id)
        rest = active_cards(s, driver_id)
        if rest:
            _align_default(s, gw, cid, driver_id, None)
        else:
            gw.set_default_card(cid, None)
    s.commit()
