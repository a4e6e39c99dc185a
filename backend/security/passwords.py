"""Argon2id password hashing (OWASP parameters of argon2-cffi's defaults)."""

from __future__ import annotations

import os

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2-cffi's defaults (RFC 9106 low-memory profile: 64 MiB, 3 passes) in production.
# The test suite lowers the cost through the environment so thousands of logins stay
# fast; hashes made with other parameters still verify, and are upgraded at login.
_hasher = PasswordHasher(
    time_cost=int(os.environ.get("ARGON2_TIME_COST", "3")),
    memory_cost=int(os.environ.get("ARGON2_MEMORY_KIB", "65536")),
    parallelism=int(os.environ.get("ARGON2_PARALLELISM", "4")),
)
# Verifying against this when the account does not exist keeps login timing flat, so a
# response time does not tell which e-mail addresses are registered.
_DUMMY = _hasher.hash("wattpass-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
