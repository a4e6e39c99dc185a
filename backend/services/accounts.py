"""Use cases of accounts: register, log in, refresh, log out, profile."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.db.models import Driver, RefreshToken, User
from backend.db.models.enums import Role
from backend.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from backend.security.passwords import hash_password, needs_rehash, verify_password
from backend.security.tokens import (
    Principal,
    issue_access_token,
    keyed_hash,
    new_opaque_token,
)

MIN_PASSWORD = 10
PROFILE_FIELDS = (
    "full_name",
    "language",
    "phone",
    "billing_name",
    "billing_street",
    "billing_postal_code",
    "billing_city",
    "billing_country",
    "billing_tax_id",
)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    role: str


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(
            "Choose a longer password.",
            errors={"password": [f"At least {MIN_PASSWORD} characters."]},
        )


def create_user(
    s: Session, email: str, password: str, role: Role, operator_id: int | None = None
) -> User:
    check_password_strength(password)
    if (role == Role.OPERATOR_STAFF) != (operator_id is not None):
        raise InvalidInput("Operator staff belong to exactly one operator.")
    user = User(
        email=normalise_email(email),
        password_hash=hash_password(password),
        role=role.value,
        operator_id=operator_id,
    )
    s.add(user)
    try:
        s.flush()
    except IntegrityError as exc:
        s.rollback()
        raise Conflict(
            "An account with this e-mail already exists.", errors={"email": ["Already registered."]}
        ) from exc
    return user


def register_driver(s: Session, email: str, password: str, profile: dict[str, str]) -> User:
    user = create_user(s, email, password, Role.DRIVER)
    s.add(Driver(user_id=user.id, **{k: v for k, v in profile.items() if k in PROFILE_FIELDS}))
    s.commit()
    return user


def _issue(s: Session, user: User, settings: Settings, now: datetime, family: str) -> TokenPair:
    principal = Principal(user.id, user.role, user.operator_id)
    access = issue_access_token(principal, settings.secret_key, now, settings.access_token_minutes)
    refresh = new_opaque_token()
    s.add(
        RefreshToken(
            user_id=user.id,
            token_hash=keyed_hash(refresh, settings.secret_key),
            family=family,
            expires_at=now + timedelta(days=settings.refresh_token_days),
        )
    )
    return TokenPair(access, refresh, settings.access_token_minutes * 60, user.role)


def login(s: Session, email: str, password: str, settings: Settings, now: datetime) -> TokenPair:
    user = s.scalar(select(User).where(User.email == normalise_email(email)))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        raise NotAuthenticated("The e-mail or password is not right.")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    pair = _issue(s, user, settings, now, family=secrets.token_hex(16))
    s.commit()
    return pair


def refresh(s: Session, token: str, settings: Settings, now: datetime) -> TokenPair:
    """Rotate a refresh token. Reuse of a rotated token revokes its whole family, since
    only a thief would replay one."""
    row = s.scalar(
        select(RefreshToken)
        .where(RefreshToken.token_hash == keyed_hash(token, settings.secret_key))
        .with_for_update()
    )
    invalid = NotAuthenticated("Your session has ended. Please log in again.")
    if row is None:
        raise invalid
    if row.revoked_at is not None:
        s.execute(
            update(RefreshToken)
            .where(RefreshToken.family == row.family, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        s.commit()
        raise invalid
    user = s.get(User, row.user_id)
    if row.expires_at <= now or user is None or not user.is_active:
        raise invalid
    row.revoked_at = now
    pair = _issue(s, user, settings, now, family=row.family)
    s.commit()
    return pair


def logout(s: Session, token: str, settings: Settings, now: datetime) -> None:
    row = s.scalar(
        select(RefreshToken).where(
            RefreshToken.token_hash == keyed_hash(token, settings.secret_key)
        )
    )
    if row is not None:
        s.execute(
            update(RefreshToken)
            .where(RefreshToken.family == row.family, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        s.commit()


def get_profile(s: Session, user_id: int) -> tuple[User, Driver]:
    user = s.get(User, user_id)
    if user is None or user.driver is None:
        raise NotFound("No driver profile.")
    return user, user.driver


def update_profile(s: Session, user_id: int, changes: dict[str, str]) -> tuple[User, Driver]:
    user, driver = get_profile(s, user_id)
    for key, value in changes.items():
        if key in PROFILE_FIELDS:
            setattr(driver, key, value)
    s.commit()
    return user, driver


def change_password(s: Session, user_id: int, current: str, new: str, now: datetime) -> None:
    user = s.get(User, user_id)
    if user is None or not verify_password(user.password_hash, current):
        raise InvalidInput(
            "The current password is not right.", errors={"current_password": ["Not right."]}
        )
    check_password_strength(new)
    user.password_hash = hash_password(new)
    # Every other device must log in again with the new password.
    s.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    s.commit()
