"""Memberships, driver side: redeem a company code, list, leave (domain.md §2 and §5).

Guessing codes is throttled per account and per client address. The throttle is asked
before the code is even looked up: were a right code let through during a lock-out, an
attacker would simply keep guessing and watch for the one answer that is not 429.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from backend.config import Settings
from backend.db.models import CompanyCode, Membership, Operator, PriceGroup
from backend.db.models.enums import CodeKind, MembershipSource
from backend.errors import InvalidInput, NotFound, TooManyAttempts
from backend.security.tokens import keyed_hash
from backend.services.throttle import Throttle
from backend.services.visibility import active_membership as membership_active
from backend.services.visibility import valid_id
from shared import codes as rules

NOT_VALID = "This code is not valid. Check it with whoever gave it to you."


class CodeNotYetValid(InvalidInput):
    code = "code_not_yet_valid"


class CodeExpired(InvalidInput):
    code = "code_expired"


@dataclass(frozen=True)
class Caller:
    """Who is redeeming, for the two throttle counters."""

    driver_id: int
    address: str


@dataclass(frozen=True)
class Redemption:
    membership: Membership
    created: bool  # False: the driver already held it, nothing changed


def code_hash(canonical: str, secret: str) -> str:
    """The only form in which a code is stored (HMAC: a leaked table reveals no code).
    Lives here, below `codes`, because redemption looks codes up by it."""
    return keyed_hash(canonical, secret)


def throttle_keys(caller: Caller) -> list[str]:
    # Per account stops one driver guessing from many networks; per address stops one
    # network guessing through many throw-away accounts.
    return [f"code:account:{caller.driver_id}", f"code:address:{caller.address[:100]}"]


def check_not_locked(throttle: Throttle, settings: Settings, caller: Caller, now: datetime) -> None:
    window = timedelta(minutes=settings.code_failure_window_minutes)
    wait = max(
        throttle.retry_after(key, settings.code_failures_allowed, window, now)
        for key in throttle_keys(caller)
    )
    if wait:
        minutes = math.ceil(wait / 60)
        raise TooManyAttempts(
            f"Too many wrong codes. Please try again in {minutes} "
            f"minute{'s' if minutes != 1 else ''}.",
            retry_after_seconds=wait,
        )


def record_failure(throttle: Throttle, settings: Settings, caller: Caller, now: datetime) -> None:
    window = timedelta(minutes=settings.code_failure_window_minutes)
    for key in throttle_keys(caller):
        throttle.record_failure(key, window, now)


def _local(instant: datetime, tz: str) -> str:
    return f"{rules.utc_to_local(instant, tz):%d %b %Y, %H:%M} ({tz})"


def redeem_code(
    s: Session,
    throttle: Throttle,
    settings: Settings,
    caller: Caller,
    typed: str,
    now: datetime,
) -> Redemption:
    """Make the driver a member of the code's operator for the code's sites."""
    check_not_locked(throttle, settings, caller, now)
    try:
        canonical = rules.normalise(typed)
    except rules.MalformedCode as exc:
        # The format is public: rejecting a malformed code tells a guesser nothing, and
        # not counting it spares a driver who mistyped an O for a 0.
        raise InvalidInput(str(exc), errors={"code": [str(exc)]}) from exc
    # The row lock orders this redemption against a revocation of the same code.
    code = s.scalar(
        select(CompanyCode)
        .where(CompanyCode.code_hash == code_hash(canonical, settings.secret_key))
        .with_for_update()
    )
    if code is None or code.revoked_at is not None:
        # One answer for wrong and revoked codes, so a revoked code cannot be told apart.
        s.rollback()
        record_failure(throttle, settings, caller, now)
        raise NotFound(NOT_VALID, errors={"code": [NOT_VALID]})

    held = s.scalar(
        select(Membership).where(
            Membership.driver_id == caller.driver_id,
            Membership.company_code_id == code.id,
            membership_active(now),
        )
    )
    if held is not None:
        s.rollback()
        return Redemption(held, created=False)

    if code.kind == CodeKind.TEMPORARY:
        if code.valid_from is not None and now < code.valid_from:
            raise CodeNotYetValid(
                f"This code can be used from {_local(code.valid_from, code.timezone)}.",
                errors={"valid_from": code.valid_from.isoformat()},
            )
        if code.valid_until is not None and now >= code.valid_until:
            raise CodeExpired(
                f"This code expired on {_local(code.valid_until, code.timezone)}.",
                errors={"valid_until": code.valid_until.isoformat()},
            )

    starts = max(now, code.valid_from) if code.valid_from else now
    membership = Membership(
        driver_id=caller.driver_id,
        operator_id=code.operator_id,
        price_group_id=code.price_group_id,
        company_code_id=code.id,
        source=MembershipSource.CODE.value,
        billing_mode=code.billing_mode,
        starts_at=starts,
        ends_at=code.valid_until,
        created_at=now,
        sites=list(code.sites),
    )
    s.add(membership)
    s.commit()
    return Redemption(membership, created=True)


@dataclass(frozen=True)
class MembershipView:
    """A membership with what the driver needs to see: whose, where, at which price."""

    membership: Membership
    operator: Operator
    price_group: PriceGroup
    code_kind: str | None
    status: str  # active | expired (the code's window closed) | ended (revoked or left)


def status_of(m: Membership, now: datetime) -> str:
    if m.revoked_at is not None:
        return "ended"
    if m.ends_at is not None and m.ends_at <= now:
        return "expired"
    return "active"


def describe(s: Session, memberships: Sequence[Membership], now: datetime) -> list[MembershipView]:
    operators = {m.operator_id for m in memberships}
    groups = {m.price_group_id for m in memberships}
    code_ids = {m.company_code_id for m in memberships if m.company_code_id is not None}
    ops = {o.id: o for o in s.scalars(select(Operator).where(Operator.id.in_(operators)))}
    pgs = {g.id: g for g in s.scalars(select(PriceGroup).where(PriceGroup.id.in_(groups)))}
    kinds = {
        code_id: kind
        for code_id, kind in s.execute(
            select(CompanyCode.id, CompanyCode.kind).where(CompanyCode.id.in_(code_ids))
        )
    }
    return [
        MembershipView(
            m,
            ops[m.operator_id],
            pgs[m.price_group_id],
            kinds.get(m.company_code_id) if m.company_code_id is not None else None,
            status_of(m, now),
        )
        for m in memberships
    ]


def list_memberships(
    s: Session, driver_id: int, now: datetime, *, include_ended: bool = False
) -> list[Membership]:
    query = (
        select(Membership)
        .where(Membership.driver_id == driver_id)
        .options(selectinload(Membership.sites))
        .order_by(Membership.created_at.desc(), Membership.id.desc())
    )
    if not include_ended:
        query = query.where(membership_active(now))
    return list(s.scalars(query).all())


def get_membership(s: Session, driver_id: int, membership_id: int) -> Membership:
    m = s.get(Membership, membership_id) if valid_id(membership_id) else None
    # Another driver's membership is "not found", never "forbidden".
    if m is None or m.driver_id != driver_id:
        raise NotFound("No such membership.")
    return m


def leave(s: Session, driver_id: int, membership_id: int, now: datetime) -> None:
    """The driver gives the membership up; leaving twice changes nothing."""
    m = get_membership(s, driver_id, membership_id)
    if m.revoked_at is None:
        m.revoked_at = now
    s.commit()


def active_member_counts(s: Session, code_ids: Sequence[int], now: datetime) -> dict[int, int]:
    """How many drivers currently hold a membership from each code."""
    if not code_ids:
        return {}
    rows = s.execute(
        select(Membership.company_code_id, func.count())
        .where(Membership.company_code_id.in_(code_ids), membership_active(now))
        .group_by(Membership.company_code_id)
    ).all()
    return {code_id: n for code_id, n in rows if code_id is not None}
