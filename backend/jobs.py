"""The periodic jobs of the embedded run and of `wattpass worker`: what nobody else
schedules (there is no Celery beat), each idempotent so a second worker or a restart
does no harm."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def background_jobs(
    container: Any, *, billing_retry_s: float = 300.0
) -> list[tuple[str, Callable[[], object]]]:
    """What nobody else schedules in the embedded run: push delivery and its retries,
    code-expiry reminders, app-start follow-ups (link, started / car-full notices, holds
    of starts that never began), and billing left half-way (Stripe was out of reach)."""
    from backend.services.billing_periods import period_due
    from backend.services.session_follow_up import follow_up

    def in_session(job: Callable[[Any, Any], object]) -> Callable[[], object]:
        def run() -> object:
            with container.session_factory() as s:
                return job(s, container.clock())

        return run

    def every(seconds: float, job: Callable[[], object]) -> Callable[[], object]:
        last = [float("-inf")]

        def run() -> object:
            if time.monotonic() - last[0] < seconds:
                return None
            last[0] = time.monotonic()
            return job()

        return run

    notes = container.notifications
    return [
        ("session follow-ups", in_session(
            lambda s, now: follow_up(s, container.billing, notes, now))),
        ("push delivery", in_session(notes.deliver_pending)),
        ("code reminders", every(60, in_session(notes.remind_expiring_codes))),
        ("billing retries", every(billing_retry_s, in_session(
            container.session_billing.bill_pending))),
        # Monthly billing and the co-op cost shares of the month that has just ended
        # everywhere; idempotent, and a site still missing meter readings waits.
        ("period close", every(3600, in_session(lambda s, now: (
            container.session_billing.close_period(s, period_due(now), now))))),
        # Then the operators' settlements of that month (its receipts are issued by now;
        # what comes later goes into the next settlement) and their payouts.
        ("settlements", every(3600, in_session(lambda s, now: settle_and_pay(
            s, container, now)))),
    ]  # fmt: skip


def settle_and_pay(s: Any, container: Any, now: Any) -> int:
    """Settle the month that has ended everywhere, then send what payouts can be sent."""
    from backend.services import payouts, settlements

    gateway = container.payouts
    made = settlements.settle_due(
        s, container.notifications, now, connect_payouts=gateway is not None
    )
    if gateway is not None:
        payouts.send_pending(s, gateway, now)
    return len(made)
