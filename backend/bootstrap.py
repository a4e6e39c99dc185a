"""The one place that wires the backend: settings → engine → sessions → adapters."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.db.base import utcnow
from backend.services.charger_gateway import ChargerGateway
from backend.services.notification_outbox import OutboxNotifier
from backend.services.notifications import Notifications
from backend.services.notifier import Notifier
from backend.services.payment_gateway import PaymentGateway
from backend.services.payments import Billing
from backend.services.payout_gateway import PayoutGateway
from backend.services.throttle import Throttle, make_throttle

if TYPE_CHECKING:
    from backend.services.billing import SessionBilling
    from backend.services.session_outbox import SessionEndedPort


@dataclass
class Container:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    throttle: Throttle
    notifications: Notifications
    clock: Callable[[], datetime] = utcnow
    # Card payments: the gateway (Stripe, localstripe, or a fake in unit tests) and the
    # per_session / monthly billing built on it. Always set by bootstrap().
    payments: PaymentGateway = None  # type: ignore[assignment]
    billing: Billing = None  # type: ignore[assignment]
    # Commands to chargers: in-process in the embedded run (the bridge's wiring sets it),
    # Redis-routed when REDIS_URL is set; None makes the command endpoints answer 503.
    charger_gateway: ChargerGateway | None = None
    # Operators' payouts as Stripe Connect transfers; None (localstripe has no Connect,
    # or STRIPE_CONNECT_PAYOUTS=false): payouts are bank transfers staff confirm.
    payouts: PayoutGateway | None = None

    def close(self) -> None:
        self.throttle.close()
        self.notifications.notifier.close()
        close_gateway = getattr(self.charger_gateway, "close", None)
        if close_gateway is not None:
            close_gateway()
        self.engine.dispose()

    @property
    def session_billing(self) -> SessionBilling:
        """Billing of ended sessions: price, collect (payments), receipts, notify."""
        from backend.services.billing import SessionBilling
        from backend.services.receipts import Seller

        return SessionBilling(self.billing, Seller.from_settings(self.settings), self.notifications)

    @property
    def session_ended(self) -> SessionEndedPort:
        """The session-ended port for the OCPP bridge: billing. Pass it to
        `build_bridge(..., session_ended_port=container.session_ended)`."""
        from backend.services.billing_port import BillingSessionEndedPort
        from backend.services.session_follow_up import LinkingSessionEndedPort

        billing = BillingSessionEndedPort(self.session_factory, self.session_billing, self.clock)
        # An app start's card hold and its notices are tied to the session before billing.
        return LinkingSessionEndedPort(
            billing, self.session_factory, self.notifications, self.clock
        )


def make_notifier(
    settings: Settings, factory: sessionmaker[Session], clock: Callable[[], datetime]
) -> Notifier:
    """Firebase when FIREBASE_CREDENTIALS is set, else the outbox the app polls."""
    if settings.push_local:
        return OutboxNotifier(factory, clock)
    from backend.adapters.fcm import FcmNotifier  # firebase-admin only where it is used

    return FcmNotifier.from_file(
        settings.firebase_credentials or "", project_id=settings.firebase_project_id
    )


def bootstrap(
    settings: Settings,
    *,
    clock: Callable[[], datetime] | None = None,
    notifier: Notifier | None = None,
    payments: PaymentGateway | None = None,
    charger_gateway: ChargerGateway | None = None,
    payouts: PayoutGateway | None = None,
) -> Container:
    from backend.adapters.stripe_gateway import make_gateway  # stripe only where used
    from backend.adapters.stripe_payouts import make_payout_gateway

    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    clock = clock or utcnow
    notifier = notifier or make_notifier(settings, factory, clock)
    gateway = payments or make_gateway(settings)
    return Container(
        settings=settings,
        engine=engine,
        session_factory=factory,
        throttle=make_throttle(settings, factory),
        notifications=Notifications(notifier, clock),
        clock=clock,
        payments=gateway,
        billing=Billing(gateway, settings.hold_amounts),
        charger_gateway=charger_gateway or make_charger_gateway(settings),
        payouts=payouts if payouts is not None else make_payout_gateway(settings),
    )


def make_charger_gateway(settings: Settings) -> ChargerGateway | None:
    """Redis-routed commands to the bridge nodes when REDIS_URL is set (production
    shape); else none here: the embedded run hands over its in-process gateway."""
    if not settings.redis_url:
        return None
    from backend.adapters.gateway_redis import DEFAULT_PREFIX, RedisChargerGateway

    prefix = os.environ.get("WATTPASS_OCPP_ROUTE_PREFIX") or DEFAULT_PREFIX
    return RedisChargerGateway.from_url(settings.redis_url, prefix=prefix)
