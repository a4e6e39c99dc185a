"""All configuration in one place, read from the environment with safe local defaults.

The embedded default (no variables set) is a SQLite file under ./var and a per-install
random secret; production sets DATABASE_URL, SECRET_KEY, REDIS_URL and friends.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("WATTPASS_VAR_DIR", ROOT / "var"))


def _local_secret() -> str:
    """A stable secret for the embedded default, generated once and kept out of git."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str = field(repr=False)
    redis_url: str | None = None
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    code_failures_allowed: int = 5
    code_failure_window_minutes: int = 15
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    trusted_proxies: int = 0

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": os.environ.get("DATABASE_URL")
            or f"sqlite:///{VAR_DIR / 'wattpass.db'}",
            "secret_key": os.environ.get("SECRET_KEY") or _local_secret(),
            "redis_url": os.environ.get("REDIS_URL") or None,
            "access_token_minutes": _int("ACCESS_TOKEN_MINUTES", 15),
            "refresh_token_days": _int("REFRESH_TOKEN_DAYS", 30),
            "code_failures_allowed": _int("CODE_FAILURES_ALLOWED", 5),
            "code_failure_window_minutes": _int("CODE_FAILURE_WINDOW_MINUTES", 15),
            "api_host": os.environ.get("API_HOST", "127.0.0.1"),
            "api_port": _int("API_PORT", 8000),
            "trusted_proxies": _int("TRUSTED_PROXIES", 0),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        if self.code_failures_allowed < 1 or self.code_failure_window_minutes < 1:
            raise ValueError("CODE_FAILURES_ALLOWED and CODE_FAILURE_WINDOW_MINUTES must be ≥ 1")
        if self.access_token_minutes < 1 or self.refresh_token_days < 1:
            raise ValueError("Token lifetimes must be positive")

    def __repr__(self) -> str:  # never print the secret or DB password
        redis = self.redis_url and redact_url(self.redis_url)
        return f"Settings(database={redact_url(self.database_url)}, redis={redis})"


def redact_url(url: str) -> str:
    """Hide the password of a connection URL so it can be logged."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
