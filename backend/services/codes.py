"""Company codes, operator side: create, list, show, revoke (domain.md §2 and §5).

A code is stored only as a keyed hash plus a short hint; the plain code exists once, in
the answer to its creation. Revoking a code ends every membership made from it in the
same transaction, so no driver keeps access through a code the operator took back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from backend.db.models import CompanyCode, Membership, Operator, PriceGroup, Site
from backend.db.models.enums import BillingMode, CodeKind
from backend.errors import InvalidInput, NotFound
from backend.services.memberships import active_member_counts, code_hash
from backend.services.visibility import valid_id
from shared import codes as rules

DEFAULT_BILLING = {
    CodeKind.PERMANENT: BillingMode.PER_SESSION,
    # P2 hotel guests pay the hotel on its own invoice (domain.md §2).
    CodeKind.TEMPORARY: BillingMode.OPERATOR_INVOICED,
}
KWH_PLACES = 3  # energy is kept to 0.001 kWh (domain.md §5, Money)


class CodeStatus(StrEnum):
    ACTIVE = "active"  # usable now or, for a guest code, once its window opens
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class NewCode:
    kind: CodeKind
    site_ids: Sequence[int]
    price_group_id: int
    label: str = ""
    billing_mode: BillingMode | None = None
    valid_from_local: datetime | None = None  # naive, the site's wall-clock time
    valid_to_local: datetime | None = None
    max_sessions: int | None = None
    max_kwh: Decimal | None = None
    created_by: int | None = None


@dataclass(frozen=True)
class CreatedCode:
    code: CompanyCode
    plain: str = field(repr=False)  # formatted for reading aloud; shown once


def get_operator(s: Session, operator_id: int) -> Operator:
    op = s.get(Operator, operator_id) if valid_id(operator_id) else None
    if op is None:
        raise NotFound("No such operator.")
    return op


def price_group_of(s: Session, operator_id: int, price_group_id: int) -> PriceGroup:
    group = s.get(PriceGroup, price_group_id) if valid_id(price_group_id) else None
    if group is None or group.operator_id != operator_id:
        raise InvalidInput(
            "Choose one of your own price groups.",
            errors={"price_group_id": ["Not a price group of this operator."]},
        )
    return group


def _sites(s: Session, operator_id: int, site_ids: Sequence[int]) -> list[Site]:
    wanted = sorted(set(site_ids))
    # Ids the schema cannot hold name no site; keep them away from the query.
    usable = [i for i in wanted if valid_id(i)]
    if not wanted:
        raise InvalidInput("Choose at least one site.", errors={"site_ids": ["Required."]})
    found = s.scalars(
        select(Site).where(Site.id.in_(usable), Site.operator_id == operator_id).order_by(Site.id)
    ).all()
    missing = sorted(set(wanted) - {x.id for x in found})
    if missing:
        # Someone else's site and a site that does not exist look the same on purpose.
        raise InvalidInput(
            "Some sites are not yours.",
            errors={"site_ids": [f"Not a site of this operator: {missing}."]},
        )
    return list(found)


def _validate_limits(new: NewCode) -> None:
    errors: dict[str, list[str]] = {}
    if new.max_sessions is not None and new.max_sessions < 1:
        errors["max_sessions"] = ["At least 1."]
    if new.max_kwh is not None:
        if not new.max_kwh.is_finite() or new.max_kwh <= 0:
            errors["max_kwh"] = ["A number of kWh greater than 0."]
        elif int(new.max_kwh.as_tuple().exponent) < -KWH_PLACES:
            errors["max_kwh"] = [f"At most {KWH_PLACES} decimal places."]
    if new.kind == CodeKind.PERMANENT:
        for name in ("valid_from_local", "valid_to_local", "max_sessions", "max_kwh"):
            if getattr(new, name) is not None:
                key = name.removesuffix("_local")
                errors[key] = ["Only temporary codes have a validity window or limits."]
    if errors:
        raise InvalidInput(
            "Some fields are not valid: " + ", ".join(sorted(errors)) + ".", errors=errors
        )


def _window(new: NewCode, sites: list[Site], now: datetime) -> tuple[str, datetime, datetime]:
    """The guest window in UTC from local wall-clock times at the sites (domain.md §5)."""
    zones = sorted({x.timezone for x in sites})
    if len(zones) > 1:
        # The window is one pair of wall-clock times; across zones it would mean two.
        raise InvalidInput(
            "A temporary code's sites must share one time zone.",
            errors={"site_ids": [f"These sites are in different time zones: {zones}."]},
        )
    missing = {
        k: ["Required for a temporary code, as local time at the site."]
        for k, v in (("valid_from", new.valid_from_local), ("valid_to", new.valid_to_local))
        if v is None
    }
    if missing:
        raise InvalidInput("A temporary code needs valid_from and valid_to.", errors=missing)
    assert new.valid_from_local is not None and new.valid_to_local is not None
    tz = zones[0]
    try:
        start = rules.local_to_utc(new.valid_from_local, tz)
    except rules.LocalTimeError as exc:
        raise InvalidInput(str(exc), errors={"valid_from": [str(exc)]}) from exc
    try:
        end = rules.local_to_utc(new.valid_to_local, tz)
    except rules.LocalTimeError as exc:
        raise InvalidInput(str(exc), errors={"valid_to": [str(exc)]}) from exc
    if end <= start:
        msg = "The end of the validity must come after its start."
        raise InvalidInput(msg, errors={"valid_to": [msg]})
    if end <= now:
        msg = "This window is already over; a code for it could never be used."
        raise InvalidInput(msg, errors={"valid_to": [msg]})
    return tz, start, end


def create_code(
    s: Session, operator_id: int, new: NewCode, secret: str, now: datetime
) -> CreatedCode:
    get_operator(s, operator_id)
    _validate_limits(new)
    sites = _sites(s, operator_id, new.site_ids)
    group = price_group_of(s, operator_id, new.price_group_id)
    tz, valid_from, valid_until = sites[0].timezone, None, None
    if new.kind == CodeKind.TEMPORARY:
        tz, valid_from, valid_until = _window(new, sites, now)
    plain = _unused_code(s, secret)
    code = CompanyCode(
        operator_id=operator_id,
        code_hash=code_hash(plain, secret),
        hint=rules.hint(plain),
        label=new.label.strip(),
        kind=new.kind.value,
        price_group_id=group.id,
        billing_mode=(new.billing_mode or DEFAULT_BILLING[new.kind]).value,
        timezone=tz,
        valid_from=valid_from,
        valid_until=valid_until,
        max_sessions=new.max_sessions,
        max_kwh=new.max_kwh,
        created_by=new.created_by,
        created_at=now,
        sites=sites,
    )
    s.add(code)
    s.commit()
    return CreatedCode(code, rules.format_code(plain))


def _unused_code(s: Session, secret: str) -> str:
    # With ~58 bits a clash is practically impossible; checking is cheaper than a 500.
    for _ in range(5):
        plain = rules.generate()
        clash = select(CompanyCode.id).where(CompanyCode.code_hash == code_hash(plain, secret))
        if s.scalar(clash) is None:
            return plain
    raise RuntimeError("could not draw an unused company code")


@dataclass(frozen=True)
class CodeView:
    """A code as the operator sees it: never the code itself, only its hint."""

    code: CompanyCode
    price_group: PriceGroup
    status: CodeStatus
    active_members: int


def describe(s: Session, codes: Sequence[CompanyCode], now: datetime) -> list[CodeView]:
    groups = {
        g.id: g
        for g in s.scalars(
            select(PriceGroup).where(PriceGroup.id.in_({c.price_group_id for c in codes}))
        )
    }
    members = active_member_counts(s, [c.id for c in codes], now)
    return [
        CodeView(c, groups[c.price_group_id], status_of(c, now), members.get(c.id, 0))
        for c in codes
    ]


def status_of(code: CompanyCode, now: datetime) -> CodeStatus:
    if code.revoked_at is not None:
        return CodeStatus.REVOKED
    if code.valid_until is not None and code.valid_until <= now:
        return CodeStatus.EXPIRED
    return CodeStatus.ACTIVE


def _status_clause(status: CodeStatus, now: datetime) -> ColumnElement[bool]:
    live = CompanyCode.revoked_at.is_(None)
    if status == CodeStatus.REVOKED:
        return CompanyCode.revoked_at.is_not(None)
    if status == CodeStatus.EXPIRED:
        return and_(live, CompanyCode.valid_until.is_not(None), CompanyCode.valid_until <= now)
    return and_(live, or_(CompanyCode.valid_until.is_(None), CompanyCode.valid_until > now))


def list_codes(
    s: Session,
    operator_id: int,
    now: datetime,
    *,
    status: CodeStatus | None = None,
    kind: CodeKind | None = None,
    offset: int = 0,
    limit: int = 20,
) -> tuple[list[CompanyCode], int]:
    """A page of the operator's codes, newest first, and the total count."""
    get_operator(s, operator_id)
    where = [CompanyCode.operator_id == operator_id]
    if status is not None:
        where.append(_status_clause(status, now))
    if kind is not None:
        where.append(CompanyCode.kind == kind.value)
    total = s.scalar(select(func.count()).select_from(CompanyCode).where(*where)) or 0
    page = s.scalars(
        select(CompanyCode)
        .where(*where)
        .options(selectinload(CompanyCode.sites))
        .order_by(CompanyCode.created_at.desc(), CompanyCode.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return list(page), total


def get_code(
    s: Session, operator_id: int, code_id: int, *, for_update: bool = False
) -> CompanyCode:
    get_operator(s, operator_id)
    if not valid_id(code_id):
        raise NotFound("No such code.")
    query = select(CompanyCode).where(
        CompanyCode.id == code_id, CompanyCode.operator_id == operator_id
    )
    code = s.scalar(query.with_for_update() if for_update else query)
    if code is None:
        raise NotFound("No such code.")
    return code


def revoke_code(s: Session, operator_id: int, code_id: int, now: datetime) -> CompanyCode:
    """Revoke a code and end its memberships at once. Revoking twice changes nothing."""
    # The row lock orders this against a redemption of the same code in flight.
    code = get_code(s, operator_id, code_id, for_update=True)
    if code.revoked_at is None:
        code.revoked_at = now
    s.execute(
        update(Membership)
        .where(Membership.company_code_id == code.id, Membership.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    s.commit()
    return code
