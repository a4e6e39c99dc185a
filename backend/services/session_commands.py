"""A driver starts and stops charging from the app (domain.md §2, §5 billing modes).

    start = start_session(s, payments, gateway, StartIn(driver_id, cp_id, connector), now)
    stop_session(s, gateway, driver_id, session_id)

The order of a start is the rule: the driver may use the connector (visibility and
membership as in the catalogue: an invisible point is 404), holds a plan at a
platform-priced (PUB) station, the connector is free and the charger connected; then the
card is authorized as the price's billing mode says (a hold for `per_session`) and only
then is the charger asked to start, with the driver's own app idTag. A refused, offline
or silent charger releases the hold (settle 0) and says so.

The session row itself is created by the bridge when the charger reports the
transaction. `SessionStart` stands for the request until then; its card hold is keyed
`payments.session_ref = -start.id` and re-keyed to the session's id when the two are
linked (`link`), so billing settles the hold the driver authorized. Linking happens
when the app polls, in the `follow_up` sweep, and at the latest before the session is
billed (`LinkingSessionEndedPort`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import ChargePoint, ChargingSession, Connector, Payment, SessionStart, Site
from backend.errors import Conflict, DomainError, Forbidden, NotFound
from backend.services import charger_gateway as gw
from backend.services import payment_state as st
from backend.services import subscriptions
from backend.services.payment_gateway import PaymentError
from backend.services.payments import Billing
from backend.services.session_access import ACCEPTED, app_id_tag, authorize

# The commands are split over session_start_* and session_command_errors to keep each
# module small; callers import all of it from here, where it always was.
from backend.services.session_command_errors import ChargerOffline as ChargerOffline
from backend.services.session_command_errors import ChargerRejected as ChargerRejected
from backend.services.session_command_errors import ChargerTimeout as ChargerTimeout
from backend.services.session_command_errors import ChargerUnavailable as ChargerUnavailable
from backend.services.session_command_errors import ConnectorBusy as ConnectorBusy
from backend.services.session_command_errors import (
    SessionAlreadyActive as SessionAlreadyActive,
)
from backend.services.session_command_errors import _charger_problem
from backend.services.session_start_checks import _check_free, _visible_charge_point
from backend.services.session_start_checks import start_billing_mode as start_billing_mode
from backend.services.session_start_links import find_session as find_session
from backend.services.session_start_links import get_start, link, start_of
from backend.services.session_start_links import payment_ref as payment_ref
from backend.services.session_start_status import ACCEPTED_BY_CHARGER as ACCEPTED_BY_CHARGER
from backend.services.session_start_status import CLOCK_SLACK as CLOCK_SLACK
from backend.services.session_start_status import FAILED as FAILED
from backend.services.session_start_status import PENDING as PENDING
from backend.services.session_start_status import PLUG_IN_WINDOW as PLUG_IN_WINDOW
from backend.services.session_start_status import REMOTE_START_TIMEOUT_S
from backend.services.session_start_status import STARTABLE as STARTABLE
from backend.services.session_start_status import STARTED as STARTED
from backend.services.session_start_status import WAITING as WAITING
from backend.services.visibility import valid_id

log = logging.getLogger(__name__)


# --- start -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartIn:
    driver_id: int
    charge_point_id: int
    connector_id: int


def start_session(
    s: Session,
    payments: Billing,
    gateway: gw.ChargerGateway | None,
    req: StartIn,
    now: datetime,
    *,
    timeout_s: float = REMOTE_START_TIMEOUT_S,
) -> SessionStart:
    """Check, authorize the card, remote-start; returns the start (commits). Raises the
    payment errors (402/503), PlanRequired (403) or a charger problem (409/503/504); in
    every failure no charger was started and no hold remains."""
    cp = _visible_charge_point(s, req.driver_id, req.charge_point_id, now)
    site = s.get(Site, cp.site_id)
    assert site is not None
    connector = s.scalar(
        select(Connector).where(
            Connector.charge_point_id == cp.id, Connector.connector_id == req.connector_id
        )
    )
    if connector is None:
        raise NotFound(f"This charge point has no connector {req.connector_id}.")
    tag = app_id_tag(s, req.driver_id)
    verdict = authorize(s, tag, site.id, now)
    if verdict.status != ACCEPTED:
        raise Forbidden("You may not charge at this charge point.")
    subscriptions.require_active_plan(s, req.driver_id, site, now)
    _check_free(s, cp, connector, req.driver_id)
    if gateway is None:
        raise ChargerUnavailable("Chargers cannot be reached right now (no connection service).")
    if not gateway.is_connected(cp.ocpp_identity):
        raise ChargerOffline(
            "The charger is not connected right now. Try again later or choose another one."
        )
    mode = start_billing_mode(s, site, req.driver_id, now)
    start = SessionStart(
        driver_id=req.driver_id,
        site_id=site.id,
        charge_point_id=cp.id,
        connector_id=connector.connector_id,
        id_tag=tag,
        billing_mode=mode,
        status=PENDING,
        created_at=now,
        updated_at=now,
    )
    s.add(start)
    s.commit()
    try:
        decision = payments.authorize_start(
            s, payment_ref(start), req.driver_id, mode, site.currency, now, site_id=site.id
        )
    except DomainError as exc:
        s.rollback()
        _fail(s, start, exc.code, exc.message, now)
        raise
    start.payment_decision = decision.decision
    s.commit()
    try:
        answer = gateway.send(
            cp.ocpp_identity, gw.RemoteStart(connector.connector_id, tag), timeout_s=timeout_s
        )
    except gw.GatewayError as exc:
        problem = _charger_problem(exc, "start charging")
        _fail(s, start, problem.code, problem.message, now, payments)
        raise problem from exc
    if not answer.accepted:
        problem = ChargerRejected(
            f"The charger refused to start ({answer.status}). Check that the cable is "
            "plugged in properly, or choose another connector."
        )
        _fail(s, start, problem.code, problem.message, now, payments)
        raise problem
    start.status = ACCEPTED_BY_CHARGER
    start.updated_at = now
    s.commit()
    find_session(s, start)
    return start


def _fail(
    s: Session,
    start: SessionStart,
    code: str,
    message: str,
    now: datetime,
    payments: Billing | None = None,
) -> None:
    start.status = FAILED
    start.error_code = code[:40]
    start.error = message[:300]
    start.updated_at = now
    s.commit()
    if payments is not None:
        release_hold(s, payments, start)


def release_hold(s: Session, payments: Billing, start: SessionStart) -> bool:
    """Give the driver's money back: settle the start's hold at 0 (idempotent). False
    when the card processor could not be reached; `follow_up` tries again."""
    hold = s.scalar(
        select(Payment).where(Payment.session_ref == payment_ref(start), Payment.kind == st.HOLD)
    )
    if hold is None or hold.final_amount_minor is not None:
        return True
    try:
        payments.settle(s, payment_ref(start), 0)
    except (PaymentError, DomainError) as exc:
        s.rollback()
        log.warning("could not release the hold of start %s: %s", start.id, exc)
        return False
    return True


# --- stop --------------------------------------------------------------------------------


def own_session(s: Session, driver_id: int, session_id: int) -> ChargingSession:
    session = s.get(ChargingSession, session_id) if valid_id(session_id) else None
    if session is None or session.driver_id != driver_id:
        raise NotFound("No such charging session.")
    return session


def stop_session(
    s: Session,
    gateway: gw.ChargerGateway | None,
    driver_id: int,
    session_id: int,
    *,
    timeout_s: float = REMOTE_START_TIMEOUT_S,
) -> gw.CommandResult:
    """Ask the charger to end the driver's own running session (RemoteStop)."""
    session = own_session(s, driver_id, session_id)
    if session.status != "active":
        raise Conflict("This session is not charging any more.")
    cp = s.get(ChargePoint, session.charge_point_id)
    assert cp is not None
    tx = session.charger_transaction_id or str(session.ocpp_transaction_id or session.id)
    s.rollback()  # hold no transaction open while the charger answers
    if gateway is None:
        raise ChargerUnavailable("Chargers cannot be reached right now (no connection service).")
    try:
        answer = gateway.send(cp.ocpp_identity, gw.RemoteStop(tx), timeout_s=timeout_s)
    except gw.GatewayError as exc:
        raise _charger_problem(exc, "stop charging") from exc
    if not answer.accepted:
        raise ChargerRejected(
            f"The charger refused to stop ({answer.status}). Unplugging the car at the "
            "charger also ends the session."
        )
    return answer


__all__ = [
    "StartIn",
    "get_start",
    "link",
    "start_of",
    "start_session",
    "stop_session",
]
