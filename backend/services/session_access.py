"""May this idTag charge here? The OCPP bridge's Authorize, and the identity a session
records (driver, RFID card, membership, company code, price group).

Two kinds of idTag reach a charger:
- an RFID card an operator registered (`RfidToken`, rules in `rfid.decide`);
- a driver's app tag, `APP-` + 16 characters (20 in all: OCPP 1.6's CiString20), which
  the backend puts in RemoteStartTransaction / RequestStartTransaction when a driver
  starts from the app (see `app_id_tag`).

Either way a driver's membership of the site's operator group (a redeemed company code)
opens a private site and sets the price group; a membership that has ended answers
`Expired` (a hotel guest whose temporary code ran out), a blocked card or a deactivated
account `Blocked`, anything else `Invalid` (domain.md §2 and §5).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import DriverAppTag, Membership, RfidToken, Site, User, membership_sites
from backend.db.models.enums import Role
from backend.services import rfid
from backend.services.visibility import OPEN_TO_ALL, active_membership

APP_PREFIX = "APP-"
# Crockford-like alphabet without look-alikes; 16 characters carry 80 bits.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

ACCEPTED, BLOCKED, EXPIRED, INVALID = "Accepted", "Blocked", "Expired", "Invalid"


@dataclass(frozen=True)
class Authorization:
    """The answer for the charger (`status`, OCPP 1.6 words, valid in 2.0.1 too) and who
    the session belongs to."""

    status: str
    driver_id: int | None = None
    rfid_token_id: int | None = None
    membership_id: int | None = None
    company_code_id: int | None = None
    price_group_id: int | None = None

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED


def app_id_tag(s: Session, driver_id: int) -> str:
    """The driver's app idTag, created on first use; stable afterwards."""
    existing = s.scalar(select(DriverAppTag.id_tag).where(DriverAppTag.driver_id == driver_id))
    if existing is not None:
        return existing
    tag = APP_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(16))
    s.add(DriverAppTag(driver_id=driver_id, id_tag=tag))
    try:
        s.commit()
    except IntegrityError:  # a concurrent first use made one already
        s.rollback()
        return app_id_tag(s, driver_id)
    return tag


def _memberships_here(s: Session, driver_id: int, site_id: int) -> list[Membership]:
    """The driver's memberships covering this site, newest first (the operator's latest
    decision about the driver wins, as in visibility.site_memberships)."""
    return list(
        s.scalars(
            select(Membership)
            .join(membership_sites, membership_sites.c.membership_id == Membership.id)
            .where(Membership.driver_id == driver_id, membership_sites.c.site_id == site_id)
            .order_by(Membership.id.desc())
        )
    )


def _membership_verdict(
    s: Session, driver_id: int, site: Site, now: datetime
) -> tuple[Membership | None, bool]:
    """(an active membership covering the site, whether an ended one covers it)."""
    held = _memberships_here(s, driver_id, site.id)
    active = s.scalars(
        select(Membership).where(Membership.id.in_([m.id for m in held]), active_membership(now))
    ).first()
    if active is not None:
        return active, False
    ended = any(m.revoked_at is None and m.ends_at is not None and m.ends_at <= now for m in held)
    return None, ended


def _with_membership(auth: Authorization, m: Membership) -> Authorization:
    return replace(
        auth,
        status=ACCEPTED,
        membership_id=m.id,
        company_code_id=m.company_code_id,
        price_group_id=m.price_group_id,
    )


def _for_driver(
    s: Session, base: Authorization, driver_id: int, site: Site, now: datetime
) -> Authorization:
    """A driver at a site: a membership opens it and prices it; an open site takes anyone
    at its default group."""
    membership, ended = _membership_verdict(s, driver_id, site, now)
    if membership is not None:
        return _with_membership(base, membership)
    if site.visibility in OPEN_TO_ALL:
        return replace(base, status=ACCEPTED, price_group_id=site.default_price_group_id)
    return replace(base, status=EXPIRED if ended else INVALID)


def authorize(s: Session, id_tag: str, site_id: int, now: datetime) -> Authorization:
    """What the charger of ``site_id`` is told about ``id_tag``, and the session's owner."""
    site = s.get(Site, site_id)
    if site is None or not id_tag:
        return Authorization(INVALID)
    tag = id_tag.strip().upper()
    if tag.startswith(APP_PREFIX):
        app = s.scalar(select(DriverAppTag).where(DriverAppTag.id_tag == tag))
        if app is None:
            return Authorization(INVALID)
        user = s.get(User, app.driver_id)
        if user is None or user.role != Role.DRIVER.value:
            return Authorization(INVALID)
        base = Authorization(INVALID, driver_id=user.id)
        if not user.is_active:
            return replace(base, status=BLOCKED)
        return _for_driver(s, base, user.id, site, now)

    decision = rfid.authorize_id_tag(s, tag, site_id, now)
    token = s.scalar(select(RfidToken).where(RfidToken.id_tag == tag))
    base = Authorization(
        INVALID,
        driver_id=decision.driver_id,
        rfid_token_id=decision.token_id,
        price_group_id=decision.price_group_id,
    )
    if decision.status == rfid.IdTagStatus.UNKNOWN or token is None:
        return Authorization(INVALID)
    if decision.status == rfid.IdTagStatus.BLOCKED:
        return replace(base, status=BLOCKED)
    if token.driver_id is not None:
        # The card's holder may be a member here through a code; that membership prices
        # the session (and opens another operator's private site).
        membership, ended = _membership_verdict(s, token.driver_id, site, now)
        if membership is not None and token.operator_id != site.operator_id:
            return _with_membership(base, membership)
        if decision.status == rfid.IdTagStatus.NOT_VALID_HERE:
            return replace(base, status=EXPIRED if ended else INVALID)
    if decision.status == rfid.IdTagStatus.ACCEPTED:
        return replace(base, status=ACCEPTED)
    return replace(base, status=INVALID)
