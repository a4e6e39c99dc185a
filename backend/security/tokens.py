"""Short-lived signed access tokens (JWT, HS256) and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from backend.errors import NotAuthenticated

ISSUER = "wattpass"


@dataclass(frozen=True)
class Principal:
    """Who is calling: taken from a verified access token, never from the request body."""

    user_id: int
    role: str
    operator_id: int | None


def issue_access_token(principal: Principal, secret: str, now: datetime, minutes: int) -> str:
    claims = {
        "iss": ISSUER,
        "sub": str(principal.user_id),
        "role": principal.role,
        "op": principal.operator_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=minutes)).timestamp()),
        "typ": "access",
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def read_access_token(token: str, secret: str, now: datetime) -> Principal:
    """Verify signature and claims; expiry is judged by the platform's clock, not the OS's."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iss"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise NotAuthenticated("The access token is not valid. Please log in again.") from exc
    if claims.get("typ") != "access":
        raise NotAuthenticated("The access token is not valid. Please log in again.")
    if int(claims["exp"]) <= now.timestamp():
        raise NotAuthenticated("Your session has expired. Please log in again.")
    return Principal(int(claims["sub"]), str(claims["role"]), claims.get("op"))


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


def keyed_hash(value: str, secret: str) -> str:
    """HMAC-SHA256, for secrets we must look up but never store (refresh tokens, codes)."""
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()
