"""All configuration in one place, read from the environment with safe local defaults.

The embedded default (no variables set) is a SQLite file under ./var and a per-install
random secret; production sets DATABASE_URL, SECRET_KEY, REDIS_URL and friends.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


def _flag(name: str, raw: str | None) -> bool | None:
    """Read "true" or "false"; None when unset (the setting then picks its default)."""
    if not raw:
        return None
    if raw.strip().lower() in {"true", "false"}:
        return raw.strip().lower() == "true"
    raise ValueError(f"{name} must be true or false")


def _decimal(name: str, default: str) -> Decimal:
    raw = os.environ.get(name) or default
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{name} must be an amount such as {default}") from None


# The card hold placed before a per_session charge starts (domain.md §5), per currency,
# in major units. A session costing more is charged the rest as a second payment.
DEFAULT_HOLD_AMOUNTS = {"PLN": "100.00", "NOK": "300.00", "EUR": "25.00"}
# The platform as seller on receipts; production sets its real name, address and tax id.
DEFAULT_SELLER = {
    "name": "Wattpass sp. z o.o.",
    "address": "ul. Przykładowa 1, 00-001 Warszawa, Polska",
    "tax_id": "PL0000000000",
    "timezone": "Europe/Warsaw",
    "prefix": "WP",
}
LOCAL_SECRET_KEY = "sk_test_localstripe"  # noqa: S105 - a placeholder localstripe accepts
LOCAL_PUBLISHABLE_KEY = "pk_test_localstripe"


def local_webhook_secret(secret_key: str) -> str:
    """The embedded platform signs localstripe's webhooks with a secret derived from its own
    signing key: stable across restarts, never written anywhere, different per install."""
    digest = hmac.new(secret_key.encode(), b"stripe-webhooks", hashlib.sha256).hexdigest()
    return f"whsec_local_{digest[:32]}"


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
    # Payments. No STRIPE_SECRET_KEY = the embedded default: localstripe on loopback.
    stripe_secret_key: str | None = field(default=None, repr=False)
    stripe_publishable_key: str | None = None
    stripe_webhook_secret: str | None = field(default=None, repr=False)
    stripe_api_base: str | None = None
    stripe_max_network_retries: int = 2
    stripe_timeout_seconds: int = 20
    localstripe_port: int = 0
    # Operators' payouts as Stripe Connect transfers (needs a real Stripe: localstripe has
    # no Connect). Unset: on with STRIPE_SECRET_KEY, off without; off = bank transfers.
    stripe_connect_payouts: bool | None = None
    hold_amounts: dict[str, Decimal] = field(
        default_factory=lambda: {k: Decimal(v) for k, v in DEFAULT_HOLD_AMOUNTS.items()},
        hash=False,
    )
    # Push. No FIREBASE_CREDENTIALS = the embedded default: messages kept in an outbox
    # the app polls. The path is not secret, the file it names is: it is never read here
    # nor logged.
    firebase_credentials: str | None = None
    firebase_project_id: str | None = None
    # Receipts: the seller (the platform, merchant of record) printed on every receipt,
    # and the prefix of the document numbers (WP/2026/000123).
    seller_name: str = DEFAULT_SELLER["name"]
    seller_address: str = DEFAULT_SELLER["address"]
    seller_tax_id: str = DEFAULT_SELLER["tax_id"]
    seller_timezone: str = DEFAULT_SELLER["timezone"]
    receipt_number_prefix: str = DEFAULT_SELLER["prefix"]

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
            "stripe_secret_key": os.environ.get("STRIPE_SECRET_KEY") or None,
            "stripe_publishable_key": os.environ.get("STRIPE_PUBLISHABLE_KEY") or None,
            "stripe_webhook_secret": os.environ.get("STRIPE_WEBHOOK_SECRET") or None,
            "stripe_api_base": os.environ.get("STRIPE_API_BASE") or None,
            "stripe_max_network_retries": _int("STRIPE_MAX_NETWORK_RETRIES", 2),
            "stripe_timeout_seconds": _int("STRIPE_TIMEOUT_SECONDS", 20),
            "localstripe_port": _int("LOCALSTRIPE_PORT", 0),
            "stripe_connect_payouts": _flag(
                "STRIPE_CONNECT_PAYOUTS", os.environ.get("STRIPE_CONNECT_PAYOUTS")
            ),
            "hold_amounts": {
                "PLN": _decimal("HOLD_AMOUNT_PLN", DEFAULT_HOLD_AMOUNTS["PLN"]),
                "NOK": _decimal("HOLD_AMOUNT_NOK", DEFAULT_HOLD_AMOUNTS["NOK"]),
                "EUR": _decimal("HOLD_AMOUNT_EUR", DEFAULT_HOLD_AMOUNTS["EUR"]),
            },
            "firebase_credentials": os.environ.get("FIREBASE_CREDENTIALS") or None,
            "firebase_project_id": os.environ.get("FIREBASE_PROJECT_ID") or None,
            "seller_name": os.environ.get("SELLER_NAME") or DEFAULT_SELLER["name"],
            "seller_address": os.environ.get("SELLER_ADDRESS") or DEFAULT_SELLER["address"],
            "seller_tax_id": os.environ.get("SELLER_TAX_ID") or DEFAULT_SELLER["tax_id"],
            "seller_timezone": os.environ.get("SELLER_TIMEZONE") or DEFAULT_SELLER["timezone"],
            "receipt_number_prefix": os.environ.get("RECEIPT_NUMBER_PREFIX")
            or DEFAULT_SELLER["prefix"],
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        if self.code_failures_allowed < 1 or self.code_failure_window_minutes < 1:
            raise ValueError("CODE_FAILURES_ALLOWED and CODE_FAILURE_WINDOW_MINUTES must be ≥ 1")
        if self.access_token_minutes < 1 or self.refresh_token_days < 1:
            raise ValueError("Token lifetimes must be positive")
        if self.stripe_secret_key is not None:
            if not self.stripe_publishable_key or not self.stripe_webhook_secret:
                raise ValueError(
                    "STRIPE_SECRET_KEY needs STRIPE_PUBLISHABLE_KEY and STRIPE_WEBHOOK_SECRET "
                    "(the app confirms cards with the first; webhooks are verified with the "
                    "second)"
                )
        else:
            # The embedded default: localstripe accepts any test keys; the webhook secret
            # is derived so `wattpass run` needs no configuration.
            if self.stripe_publishable_key is None:
                object.__setattr__(self, "stripe_publishable_key", LOCAL_PUBLISHABLE_KEY)
            if self.stripe_webhook_secret is None:
                object.__setattr__(
                    self, "stripe_webhook_secret", local_webhook_secret(self.secret_key)
                )
        if self.stripe_connect_payouts is None:
            object.__setattr__(self, "stripe_connect_payouts", self.stripe_secret_key is not None)
        elif self.stripe_connect_payouts and self.stripe_secret_key is None:
            raise ValueError(
                "STRIPE_CONNECT_PAYOUTS=true needs STRIPE_SECRET_KEY (localstripe has no "
                "Connect; without a key operators are paid by bank transfer)"
            )
        if any(v <= 0 for v in self.hold_amounts.values()):
            raise ValueError("HOLD_AMOUNT_* must be positive amounts")
        if self.stripe_max_network_retries < 0 or self.stripe_timeout_seconds < 1:
            raise ValueError("STRIPE_MAX_NETWORK_RETRIES ≥ 0 and STRIPE_TIMEOUT_SECONDS ≥ 1")
        if not 0 <= self.localstripe_port < 65536:
            raise ValueError("LOCALSTRIPE_PORT must be a TCP port (0 = any free port)")
        if not re.fullmatch(r"[A-Z0-9]{1,8}", self.receipt_number_prefix):
            raise ValueError("RECEIPT_NUMBER_PREFIX must be 1-8 capital letters or digits (WP)")
        try:
            ZoneInfo(self.seller_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("SELLER_TIMEZONE must be an IANA time zone (Europe/Warsaw)") from None

    @property
    def payments_local(self) -> bool:
        """True in the embedded default: payments go to localstripe, never to Stripe."""
        return self.stripe_secret_key is None

    def hold_amount(self, currency: str) -> Decimal:
        try:
            return self.hold_amounts[currency]
        except KeyError:
            raise ValueError(f"No card hold is configured for {currency}") from None

    @property
    def push_local(self) -> bool:
        """True in the embedded default: push messages go to the outbox, not to Firebase."""
        return self.firebase_credentials is None

    def __repr__(self) -> str:  # never print the secret, DB password or Stripe keys
        redis = self.redis_url and redact_url(self.redis_url)
        payments = "localstripe" if self.payments_local else "stripe"
        return (
            f"Settings(database={redact_url(self.database_url)}, redis={redis}, "
            f"payments={payments}, push={'outbox' if self.push_local else 'fcm'})"
        )


def redact_url(url: str) -> str:
    """Hide the password of a connection URL so it can be logged."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
