"""What is checked before a start asks the charger: that the driver sees the charge point,
that its connector is free, and the billing mode the start will be billed in.

Split out of session_commands (which re-exports start_billing_mode) to keep each module
small.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import (
    ChargePoint,
    ChargingSession,
    Connector,
    Membership,
    SessionStart,
    Site,
)
from backend.db.models.enums import Role
from backend.errors import NotFound
from backend.services import billing_pricing, pricing
from backend.services.session_command_errors import ConnectorBusy, SessionAlreadyActive
from backend.services.session_start_status import STARTABLE, WAITING
from backend.services.session_stop import OPEN
from backend.services.visibility import Viewer, site_access, valid_id


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
