"""Who may see which site, and which price group applies there (domain.md §2 and §5).

The one place for these rules, in two forms that must agree:
- SQL pieces (`active_membership`, `site_memberships`, `visible_site`) that list queries
  join in, so a list of a thousand points costs one query, not a thousand;
- per-site functions (`site_access`, `require_site_access`) for one site at a time,
  built from the very same SQL pieces.

Rules:
- A driver's membership is active while it is not revoked, has started, and has not
  ended (``ends_at`` is exclusive). It covers the sites listed in membership_sites.
- Public and semi-public sites are visible to everyone, anonymous callers included.
- A private site is visible to a driver with an active membership covering it, to the
  staff of its own operator, and to platform admins; to anyone else it does not exist
  (absent from lists, 404 — never 403 — on direct access).
- The price group that applies to a driver at a site is the group of an active
  membership covering the site; without one, the site's default (public) group. When
  several active memberships cover one site, the most recently granted one wins: it is
  the operator's latest decision about this driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, and_, func, or_, select, true
from sqlalchemy.orm import Session

from backend.db.models import Membership, Site, membership_sites
from backend.db.models.enums import Role, Visibility
from backend.errors import NotFound
from backend.security.tokens import Principal

OPEN_TO_ALL = (Visibility.PUBLIC.value, Visibility.SEMI_PUBLIC.value)
# Ids are 32-bit integers in the schema: a bigger one names nothing, and must not reach
# the database, which would fail the query instead of answering "not found".
MAX_ID = 2**31 - 1


def valid_id(value: int) -> bool:
    return 0 < value <= MAX_ID


@dataclass(frozen=True)
class Viewer:
    """The caller as the access rules see it; anonymous when ``user_id`` is None."""

    user_id: int | None = None
    role: str | None = None
    operator_id: int | None = None

    @classmethod
    def of(cls, principal: Principal | None) -> Viewer:
        if principal is None:
            return cls()
        return cls(principal.user_id, principal.role, principal.operator_id)

    @property
    def driver_id(self) -> int | None:
        """Only drivers hold memberships; staff and admins never get a driver's price."""
        return self.user_id if self.role == Role.DRIVER.value else None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.PLATFORM_ADMIN.value

    @property
    def staff_operator_id(self) -> int | None:
        return self.operator_id if self.role == Role.OPERATOR_STAFF.value else None

    @property
    def kind(self) -> str:
        """anonymous, driver, staff or admin: what the access rules tell apart."""
        if self.driver_id is not None:
            return "driver"
        if self.is_admin:
            return "admin"
        return "staff" if self.staff_operator_id is not None else "anonymous"


ANONYMOUS = Viewer()

# The SQL pieces below take plain values or bound parameters alike, so a list query can
# be built once and run many times with new values (see catalogue_sql).
IntValue = int | ColumnElement[int]
TimeValue = datetime | ColumnElement[datetime]


def active_membership(now: TimeValue) -> ColumnElement[bool]:
    """SQL condition on Membership: it gives access at ``now``."""
    return and_(
        Membership.revoked_at.is_(None),
        Membership.starts_at <= now,
        or_(Membership.ends_at.is_(None), Membership.ends_at > now),
    )


def site_memberships(driver_id: IntValue, now: TimeValue) -> Subquery:
    """One row per site the driver is an active member of: (site_id, membership_id,
    price_group_id). LEFT JOIN it on the site id; a NULL site_id means "not a member".

    A driver holds a handful of memberships, so this is small whatever the catalogue's
    size; it is read through the index on memberships(driver_id, revoked_at).
    """
    latest = (
        select(
            membership_sites.c.site_id.label("site_id"),
            func.max(Membership.id).label("membership_id"),
        )
        .join(Membership, Membership.id == membership_sites.c.membership_id)
        .where(Membership.driver_id == driver_id, active_membership(now))
        .group_by(membership_sites.c.site_id)
        .subquery("latest_membership")
    )
    return (
        select(latest.c.site_id, latest.c.membership_id, Membership.price_group_id)
        .join(Membership, Membership.id == latest.c.membership_id)
        .subquery("site_membership")
    )


def member_site_ids(driver_id: IntValue, now: TimeValue) -> Select[Any]:
    """The sites the driver's active memberships cover, as a select of their ids: all
    `visible_site` needs, and simpler than `site_memberships` (no latest membership to
    pick, so nothing to group)."""
    return (
        select(membership_sites.c.site_id)
        .join(Membership, Membership.id == membership_sites.c.membership_id)
        .where(Membership.driver_id == driver_id, active_membership(now))
    )


def visible_site(
    kind: str,
    member_site_id: ColumnElement[int] | None = None,
    staff_operator_id: IntValue | None = None,
    *,
    member_sites: Select[Any] | None = None,
) -> ColumnElement[bool]:
    """SQL condition on Site: a viewer of this `Viewer.kind` may see it.

    For a driver, either ``member_site_id``, the ``site_id`` column of `site_memberships`
    joined in, or ``member_sites``, `member_site_ids`: then the condition needs nothing
    but the site's row, so a list can apply it while scanning sites (a driver has a
    handful of sites, looked up once). ``staff_operator_id`` is the operator of a staff
    member.
    """
    if kind == "admin":
        return true()
    conditions: list[ColumnElement[bool]] = [Site.visibility.in_(OPEN_TO_ALL)]
    if kind == "driver" and member_site_id is not None:
        conditions.append(member_site_id.is_not(None))
    if kind == "driver" and member_sites is not None:
        conditions.append(Site.id.in_(member_sites))
    if kind == "staff" and staff_operator_id is not None:
        conditions.append(Site.operator_id == staff_operator_id)
    return or_(*conditions)


@dataclass(frozen=True)
class SiteAccess:
    """What a viewer gets at one visible site."""

    site: Site
    member: bool
    membership_id: int | None
    price_group_id: int | None  # the membership's group, else the site's default


def site_access(s: Session, viewer: Viewer, site_id: int, now: datetime) -> SiteAccess | None:
    """The viewer's access to one site, or None when the site is invisible to them (or
    does not exist: the two must look the same to the caller)."""
    if not valid_id(site_id):
        return None
    query = select(Site)
    membership = None
    if viewer.driver_id is not None:
        membership = site_memberships(viewer.driver_id, now)
        query = query.add_columns(
            membership.c.membership_id, membership.c.price_group_id
        ).outerjoin(membership, membership.c.site_id == Site.id)
    member_col = membership.c.site_id if membership is not None else None
    visible = visible_site(viewer.kind, member_col, viewer.staff_operator_id)
    row = s.execute(query.where(Site.id == site_id, visible)).first()
    if row is None:
        return None
    site = row[0]
    membership_id = row[1] if membership is not None else None
    group = row[2] if membership_id is not None else site.default_price_group_id
    return SiteAccess(site, membership_id is not None, membership_id, group)


def require_site_access(s: Session, viewer: Viewer, site_id: int, now: datetime) -> SiteAccess:
    """As `site_access`, raising NotFound (404, the same as a missing site) if invisible."""
    access = site_access(s, viewer, site_id, now)
    if access is None:
        raise NotFound("No such site.")
    return access
