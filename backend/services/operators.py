"""Operators, their staff accounts and their price groups (platform management).

Operators are created by platform admins; an operator's staff see and manage only their
own operator (the API answers 404 for any other, so ids of other tenants reveal nothing).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import Operator, PriceGroup, User
from backend.db.models.enums import PriceGroupKind, Role
from backend.errors import Conflict, InvalidInput, NotFound
from backend.services import accounts
from backend.services.visibility import valid_id
from shared import countries

OPERATOR_FIELDS = ("name", "legal_name", "tax_id", "country", "email", "phone")
# A generated staff password: ~96 bits, URL-safe so it survives e-mail and chat clients.
GENERATED_PASSWORD_BYTES = 12


def invalid(field_name: str, message: str) -> InvalidInput:
    """A 422 about one field, with the message both as the summary and as the field's."""
    return InvalidInput(message, errors={field_name: [message]})


def require_country(code: str, field_name: str = "country") -> countries.Country:
    try:
        return countries.country(code)
    except countries.UnsupportedCountry as exc:
        raise invalid(field_name, str(exc)) from exc


# --- operators -------------------------------------------------------------------------


def get_operator(s: Session, operator_id: int, *, for_update: bool = False) -> Operator:
    if not valid_id(operator_id):
        raise NotFound("No such operator.")
    query = select(Operator).where(Operator.id == operator_id)
    op = s.scalar(query.with_for_update() if for_update else query)
    if op is None:
        raise NotFound("No such operator.")
    return op


def _clean(changes: Mapping[str, Any]) -> dict[str, Any]:
    data = {k: v.strip() if isinstance(v, str) else v for k, v in changes.items()}
    data = {k: v for k, v in data.items() if k in OPERATOR_FIELDS}
    if "name" in data and not data["name"]:
        raise invalid("name", "An operator needs a name.")
    if "country" in data:
        require_country(data["country"])
    return data


def create_operator(s: Session, data: Mapping[str, Any], now: datetime) -> Operator:
    clean = _clean(data)
    for required in ("name", "country"):
        if required not in clean:
            raise invalid(required, "Required.")
    op = Operator(**clean, created_at=now)
    s.add(op)
    s.commit()
    return op


def list_operators(
    s: Session, *, only: int | None = None, offset: int = 0, limit: int = 20
) -> tuple[list[Operator], int]:
    """A page of operators by name; ``only`` narrows the list to one (a staff member's)."""
    where = [Operator.id == only] if only is not None else []
    total = s.scalar(select(func.count()).select_from(Operator).where(*where)) or 0
    rows = s.scalars(
        select(Operator)
        .where(*where)
        .order_by(Operator.name, Operator.id)
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), total


def update_operator(s: Session, operator_id: int, changes: Mapping[str, Any]) -> Operator:
    op = get_operator(s, operator_id, for_update=True)
    for key, value in _clean(changes).items():
        setattr(op, key, value)
    s.commit()
    return op


# --- staff -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NewStaff:
    user: User
    # Set only when the platform chose the password: shown once, in the creation answer.
    generated_password: str | None = field(default=None, repr=False)


def create_staff(
    s: Session, operator_id: int, email: str, password: str | None, now: datetime
) -> NewStaff:
    """A login for one of the operator's people. Without a password, a strong one is
    generated and returned once; the person changes it after the first login."""
    get_operator(s, operator_id)
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
    user = accounts.create_user(s, email, password, Role.OPERATOR_STAFF, operator_id)
    user.created_at = now
    s.commit()
    return NewStaff(user, generated)


def list_staff(s: Session, operator_id: int) -> list[User]:
    get_operator(s, operator_id)
    return list(
        s.scalars(
            select(User)
            .where(User.operator_id == operator_id, User.role == Role.OPERATOR_STAFF.value)
            .order_by(User.email)
        ).all()
    )


# --- price groups ----------------------------------------------------------------------


def create_price_group(
    s: Session, operator_id: int, name: str, kind: PriceGroupKind, now: datetime
) -> PriceGroup:
    # The lock orders concurrent creations for one operator, so the check below holds.
    get_operator(s, operator_id, for_update=True)
    name = name.strip()
    if not name:
        raise invalid("name", "A price group needs a name.")
    taken = Conflict(
        f"This operator already has a price group called {name!r}.",
        errors={"name": ["Already used by another price group of this operator."]},
    )
    # "Public" and "public" would be two groups nobody could tell apart in a list.
    clash = select(PriceGroup.id).where(
        PriceGroup.operator_id == operator_id, func.lower(PriceGroup.name) == name.lower()
    )
    if s.scalar(clash) is not None:
        s.rollback()
        raise taken
    group = PriceGroup(operator_id=operator_id, name=name, kind=kind.value, created_at=now)
    s.add(group)
    try:
        s.commit()
    except IntegrityError as exc:
        s.rollback()
        raise taken from exc
    return group


def list_price_groups(s: Session, operator_id: int) -> list[PriceGroup]:
    get_operator(s, operator_id)
    return list(
        s.scalars(
            select(PriceGroup).where(PriceGroup.operator_id == operator_id).order_by(PriceGroup.id)
        ).all()
    )
