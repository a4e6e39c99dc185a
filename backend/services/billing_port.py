"""The session-ended port, implemented by billing: when the bridge tells the backend that
a session ended (through its outbox, at least once), the session is billed.

Raising makes the outbox deliver the notice again later (with back-off): that is what a
card processor out of reach does. Whatever cannot be billed (no price, nobody to bill) is
recorded on the session's charge for review and counts as delivered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from backend.services.billing import SessionBilling
from backend.services.session_outbox import SessionEnded, SessionEndedPort
from shared.money import Money

log = logging.getLogger(__name__)


class BillingSessionEndedPort(SessionEndedPort):
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        billing: SessionBilling,
        clock: Callable[[], datetime],
    ) -> None:
        self.session_factory = session_factory
        self.billing = billing
        self.clock = clock

    def session_ended(self, event: SessionEnded) -> None:
        with self.session_factory() as s:
            charge = self.billing.bill_ended_session(s, event.session_id, self.clock())
            log.info(
                "session %s billed: %s %s (%s)",
                event.session_id,
                charge.billing_mode,
                Money(charge.gross_minor, charge.currency),  # "9.00 PLN", not "900 PLN"
                charge.status,
            )
