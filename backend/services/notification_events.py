"""What the platform tells people about: small, past-tense events.

Other services build one of these and hand it to `Notifications.notify` (a driver) or
`Notifications.notify_operator_staff` (everyone on an operator's staff). The text comes
from `notification_texts` in the reader's language; `data()` is the machine-readable
payload the app gets with the push message (FCM data: strings only).

Amounts are `shared.money.Money` (integer minor units); energy is a `Decimal` in kWh.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

from shared.money import Money


@dataclass(frozen=True)
class NotificationEvent:
    kind: ClassVar[str] = ""

    def data(self) -> dict[str, str]:
        """Ids the app needs to open the right screen."""
        return {}

    def dedupe_key(self) -> str | None:
        """A key for events that must reach a user only once (None: no such rule)."""
        return None


# --- drivers: sessions ------------------------------------------------------------------


@dataclass(frozen=True)
class SessionStarted(NotificationEvent):
    kind: ClassVar[str] = "session_started"
    session_id: int
    site_name: str
    #: Set where no other record keeps it to once (sessions not started in the app).
    once_key: str | None = field(default=None, compare=False)

    def data(self) -> dict[str, str]:
        return {"session_id": str(self.session_id)}

    def dedupe_key(self) -> str | None:
        return self.once_key


@dataclass(frozen=True)
class ChargingComplete(NotificationEvent):
    """The car is full. `idle_fee_in_minutes`: when the idle (blocking) fee starts, 0 if it
    already runs; None where no idle fee applies (domain.md §5, idle fee)."""

    kind: ClassVar[str] = "charging_complete"
    session_id: int
    site_name: str
    idle_fee_in_minutes: int | None = None
    #: Set where no other record keeps it to once (sessions not started in the app).
    once_key: str | None = field(default=None, compare=False)

    def data(self) -> dict[str, str]:
        out = {"session_id": str(self.session_id)}
        if self.idle_fee_in_minutes is not None:
            out["idle_fee_in_minutes"] = str(self.idle_fee_in_minutes)
        return out

    def dedupe_key(self) -> str | None:
        return self.once_key


@dataclass(frozen=True)
class SessionEnded(NotificationEvent):
    kind: ClassVar[str] = "session_ended"
    session_id: int
    site_name: str
    energy_kwh: Decimal
    amount: Money

    def data(self) -> dict[str, str]:
        return {"session_id": str(self.session_id)}


# --- drivers: payments and plans --------------------------------------------------------


@dataclass(frozen=True)
class PaymentFailed(NotificationEvent):
    kind: ClassVar[str] = "payment_failed"
    amount: Money
    session_id: int | None = None
    payment_id: int | None = None
    #: Sent once per key (a payment's attempt), e.g. "payment_failed:12:1".
    once_key: str | None = field(default=None, compare=False)

    def data(self) -> dict[str, str]:
        out = {}
        if self.payment_id is not None:
            out["payment_id"] = str(self.payment_id)
        if self.session_id is not None:
            out["session_id"] = str(self.session_id)
        return out

    def dedupe_key(self) -> str | None:
        return self.once_key


@dataclass(frozen=True)
class AuthenticationNeeded(NotificationEvent):
    """The bank wants the driver to confirm a payment (3-D Secure / SCA)."""

    kind: ClassVar[str] = "authentication_needed"
    amount: Money
    payment_id: int | None = None
    session_id: int | None = None
    #: Sent once per key (a payment's attempt), e.g. "authentication_needed:12:1".
    once_key: str | None = field(default=None, compare=False)

    def data(self) -> dict[str, str]:
        out = {}
        if self.payment_id is not None:
            out["payment_id"] = str(self.payment_id)
        if self.session_id is not None:
            out["session_id"] = str(self.session_id)
        return out

    def dedupe_key(self) -> str | None:
        return self.once_key


@dataclass(frozen=True)
class PlanRenewed(NotificationEvent):
    kind: ClassVar[str] = "plan_renewed"
    plan_name: str
    amount: Money
    #: Sent once per key (the Stripe invoice), e.g. "plan_renewed:in_123".
    once_key: str | None = field(default=None, compare=False)

    def dedupe_key(self) -> str | None:
        return self.once_key


@dataclass(frozen=True)
class PlanRenewalFailed(NotificationEvent):
    kind: ClassVar[str] = "plan_renewal_failed"
    plan_name: str
    amount: Money
    #: Sent once per key (the Stripe invoice), e.g. "plan_renewal_failed:in_123".
    once_key: str | None = field(default=None, compare=False)

    def dedupe_key(self) -> str | None:
        return self.once_key


# --- drivers: access --------------------------------------------------------------------


@dataclass(frozen=True)
class CodeExpiring(NotificationEvent):
    """A membership from a temporary company code ends soon; sent once per membership."""

    kind: ClassVar[str] = "code_expiring"
    membership_id: int
    operator_name: str
    ends_at: datetime
    hours_left: int

    def data(self) -> dict[str, str]:
        return {"membership_id": str(self.membership_id), "ends_at": self.ends_at.isoformat()}

    def dedupe_key(self) -> str | None:
        return f"code_expiring:{self.membership_id}"


# --- operator staff ---------------------------------------------------------------------


@dataclass(frozen=True)
class ChargerFaulted(NotificationEvent):
    kind: ClassVar[str] = "charger_faulted"
    charge_point_id: int
    charger_name: str
    site_name: str
    error_code: str | None = None

    def data(self) -> dict[str, str]:
        return {"charge_point_id": str(self.charge_point_id)}


@dataclass(frozen=True)
class ChargerRestarted(NotificationEvent):
    """The health monitor restarted a faulted charger and it came back."""

    kind: ClassVar[str] = "charger_restarted"
    charge_point_id: int
    charger_name: str
    site_name: str

    def data(self) -> dict[str, str]:
        return {"charge_point_id": str(self.charge_point_id)}


@dataclass(frozen=True)
class ChargerRestartFailed(NotificationEvent):
    kind: ClassVar[str] = "charger_restart_failed"
    charge_point_id: int
    charger_name: str
    site_name: str

    def data(self) -> dict[str, str]:
        return {"charge_point_id": str(self.charge_point_id)}


@dataclass(frozen=True)
class SettlementReady(NotificationEvent):
    """A settlement period was closed; `amount` is what it comes to (payout or fee)."""

    kind: ClassVar[str] = "settlement_ready"
    settlement_id: int
    period_start: date
    period_end: date  # the last day of the period, inclusive
    amount: Money

    def data(self) -> dict[str, str]:
        return {"settlement_id": str(self.settlement_id)}


ALL_EVENTS: tuple[type[NotificationEvent], ...] = (
    SessionStarted,
    ChargingComplete,
    SessionEnded,
    PaymentFailed,
    AuthenticationNeeded,
    CodeExpiring,
    PlanRenewed,
    PlanRenewalFailed,
    ChargerFaulted,
    ChargerRestarted,
    ChargerRestartFailed,
    SettlementReady,
)
