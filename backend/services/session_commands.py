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
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from backend.db.models import (
    ChargePoint,
    ChargingSession,
    Connector,
    Membership,
    Payment,
    SessionStart,
    Site,
)
from backend.db.models.enums import Role
from backend.errors import Conflict, DomainError, Forbidden, NotFound
from backend.services import billing_pricing, pricing, subscriptions
from backend.services import charger_gateway as gw
from backend.services import payment_state as st
from backend.services.payment_gateway import PaymentError
from backend.services.payments import Billing
from backend.services.session_access import ACCEPTED, app_id_tag, authorize
from backend.services.session_stop import OPEN
from backend.services.visibility import Viewer, site_access, valid_id

log = logging.getLogger(__name__)

PENDING, ACCEPTED_BY_CHARGER, STARTED, FAILED = "pending", "accepted", "started", "failed"
WAITING = (PENDING, ACCEPTED_BY_CHARGER)
# Connector states a remote start makes sense in: free, or a cable already plugged in.
STARTABLE = ("Available", "Preparing")
REMOTE_START_TIMEOUT_S = 30.0
# A charger that accepted the remote start waits this long for the car (its own
# ConnectionTimeOut is usually 1–3 minutes); after it the start has failed, hold released.
PLUG_IN_WINDOW = timedelta(minutes=5)
# Clocks of the API and a bridge node may differ a little.
CLOCK_SLACK = timedelta(minutes=1)


# --- errors the driver sees ----------------------------------------------------------------


class ConnectorBusy(DomainError):
    status = 409
    code = "connector_busy"


class SessionAlreadyActive(DomainError):
    status = 409
    code = "session_already_active"


class ChargerOffline(DomainError):
    status = 409
    code = "charger_offline"


class ChargerRejected(DomainError):
    status = 409
    code = "charger_rejected"


class ChargerTimeout(DomainError):
    status = 504
    code = "charger_timeout"


class ChargerUnavailable(DomainError):
    status = 503
    code = "charger_connection_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"Retry-After": "10"})


def _charger_problem(exc: gw.GatewayError, what: str) -> DomainError:
    if isinstance(exc, gw.ChargerOffline):
        return ChargerOffline(
            f"The charger is not connected right now, so it cannot {what}. Try again later "
            "or choose another charge point."
        )
    if isinstance(exc, gw.ChargerTimeout):
        return ChargerTimeout(
            f"The charger did not answer in time, so it did not {what}. Try again."
        )
    if isinstance(exc, gw.CommandRejected):
        return ChargerRejected(f"The charger could not {what}: {exc.message}")
    return ChargerUnavailable(exc.message)


# --- start -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartIn:
    driver_id: int
    charge_point_id: int
    connector_id: int


def _visible_charge_point(s: Session, driver_id: int, cp_id: int, now: datetime) -> ChargePoint:
    """The charge point as the catalogue shows it to this driver; else 404 (a private
    point of another group looks exactly like a missing one, domain.md §5)."""
    cp = s.get(ChargePoint, cp_id) if valid_id(cp_id) else None
    viewer = Viewer(driver_id, Role.DRIVER.value)
    if cp is None or not cp.commissioned or site_access(s, viewer, cp.site_id, now) is None:
        raise NotFound("No such charge point.")
    return cp


def start_billing_mode(s: Session, site: Site, driver_id: int, now: datetime) -> str:
    """The billing mode this start will be billed in: the code's, else the membership's,
    else the price version's (the same rule as billing_pricing.billing_mode, applied
    before the session exists)."""
    viewer = Viewer(driver_id, Role.DRIVER.value)
    access = site_access(s, viewer, site.id, now)
    membership = (
        s.get(Membership, access.membership_id) if access and access.membership_id else None
    )
    probe = ChargingSession(
        membership_id=membership.id if membership else None,
        company_code_id=membership.company_code_id if membership else None,
    )
    row = None
    group = access.price_group_id if access else site.default_price_group_id
    if group is not None:
        try:
            row = pricing.in_force(s, site.id, group, now)
        except NotFound:
            row = None
    return billing_pricing.billing_mode(s, probe, row)


def _check_free(s: Session, cp: ChargePoint, connector: Connector, driver_id: int) -> None:
    mine = s.scalar(
        select(ChargingSession.id).where(
            ChargingSession.charge_point_id == cp.id,
            ChargingSession.driver_id == driver_id,
            ChargingSession.status.in_(OPEN),
        )
    )
    waiting = s.scalar(
        select(SessionStart.id).where(
            SessionStart.charge_point_id == cp.id,
            SessionStart.driver_id == driver_id,
            SessionStart.status.in_(WAITING),
        )
    )
    if mine is not None or waiting is not None:
        raise SessionAlreadyActive(
            "You already have a session at this charge point. Stop it before starting another."
        )
    taken = s.scalar(
        select(ChargingSession.id).where(
            ChargingSession.charge_point_id == cp.id,
            ChargingSession.connector_id == connector.connector_id,
            ChargingSession.status == "active",
        )
    )
    other_start = s.scalar(
        select(SessionStart.id).where(
            SessionStart.charge_point_id == cp.id,
            SessionStart.connector_id == connector.connector_id,
            SessionStart.status.in_(WAITING),
        )
    )
    if taken is not None or other_start is not None or connector.status not in STARTABLE:
        raise ConnectorBusy(
            f"Connector {connector.connector_id} is not free right now "
            f"({connector.status.lower() or 'status unknown'}). Choose another one."
        )


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


def payment_ref(start: SessionStart) -> int:
    """The card hold's `session_ref` while no session exists: negative, so it can never
    be mistaken for a charging session's id."""
    return -start.id


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


# --- linking a start to the charger's session ------------------------------------------


def link(s: Session, start: SessionStart, session: ChargingSession, now: datetime) -> None:
    """The start became this session: re-key its payments to the session's id (no commit)."""
    start.session_id = session.id
    start.status = STARTED
    start.updated_at = now
    taken = set(s.scalars(select(Payment.kind).where(Payment.session_ref == session.id)).all())
    for p in s.scalars(select(Payment).where(Payment.session_ref == payment_ref(start))):
        if p.kind not in taken:
            p.session_ref = session.id


def _linked_ids() -> Select[int | None]:
    return select(SessionStart.session_id).where(SessionStart.session_id.is_not(None))


def find_session(s: Session, start: SessionStart) -> ChargingSession | None:
    """The session the charger opened for this start, linked (commits) — or None yet."""
    if start.session_id is not None:
        return s.get(ChargingSession, start.session_id)
    if start.status not in WAITING:
        return None
    session = s.scalar(
        select(ChargingSession)
        .where(
            ChargingSession.charge_point_id == start.charge_point_id,
            ChargingSession.connector_id == start.connector_id,
            func.upper(ChargingSession.id_tag) == start.id_tag,
            ChargingSession.created_at >= start.created_at - CLOCK_SLACK,
            ChargingSession.id.not_in(_linked_ids()),
        )
        .order_by(ChargingSession.id)
        .limit(1)
    )
    if session is None:
        return None
    link(s, start, session, start.updated_at)
    s.commit()
    return session


def start_of(s: Session, session: ChargingSession) -> SessionStart | None:
    """The app start behind this session (linked now if it was not yet; commits)."""
    found = s.scalar(select(SessionStart).where(SessionStart.session_id == session.id))
    if found is not None:
        return found
    start = s.scalar(
        select(SessionStart)
        .where(
            SessionStart.charge_point_id == session.charge_point_id,
            SessionStart.connector_id == session.connector_id,
            SessionStart.id_tag == session.id_tag.upper(),
            SessionStart.status.in_(WAITING),
            SessionStart.session_id.is_(None),
            SessionStart.created_at <= session.created_at + CLOCK_SLACK,
        )
        .order_by(SessionStart.id.desc())
        .limit(1)
    )
    if start is None:
        return None
    link(s, start, session, session.created_at)
    s.commit()
    return start


def get_start(s: Session, driver_id: int, start_id: int) -> SessionStart:
    """The driver's own start (another driver's is 404), linked if its session exists."""
    start = s.get(SessionStart, start_id) if valid_id(start_id) else None
    if start is None or start.driver_id != driver_id:
        raise NotFound("No such session start.")
    find_session(s, start)
    return start


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
