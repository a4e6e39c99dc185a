"""What the OCPP bridge records: charging sessions, their meter samples, incidents for
review, the outbox that tells the rest of the platform a session ended, and the bits of
charger/driver identity the bridge needs (app idTags, boot refusals)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, ExactDecimal, UTCDateTime, utcnow


class ChargingSession(Base):
    """One charging transaction at one connector, from start to unplug.

    Meter registers are BigInteger Wh: a busy DC charger's lifetime register passes
    2^31 Wh (2.1 GWh) within its service life.
    """

    __tablename__ = "charging_sessions"
    __table_args__ = (
        # Idempotent starts: a retried StartTransaction (1.6) or TransactionEvent
        # Started (2.0.1) carries the same key and finds the row it made the first time.
        UniqueConstraint("charge_point_id", "start_key", name="uq_charging_sessions_start_key"),
        UniqueConstraint(
            "charge_point_id", "charger_transaction_id", name="uq_charging_sessions_charger_tx"
        ),
        Index("ix_charging_sessions_connector", "charge_point_id", "connector_id", "status"),
        Index("ix_charging_sessions_driver", "driver_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    charge_point_id: Mapped[int] = mapped_column(ForeignKey("charge_points.id"))
    connector_id: Mapped[int] = mapped_column(Integer)  # 1.6 connectorId; 2.0.1 evse id
    ocpp_version: Mapped[str] = mapped_column(String(10))
    start_key: Mapped[str] = mapped_column(String(120))
    # 1.6: the integer we hand the charger in StartTransaction.conf (unique platform-wide).
    ocpp_transaction_id: Mapped[int | None] = mapped_column(Integer, unique=True, nullable=True)
    # 2.0.1: the charger's own transactionId (unique per charger only).
    charger_transaction_id: Mapped[str | None] = mapped_column(String(36), nullable=True)

    id_tag: Mapped[str] = mapped_column(String(36), default="")
    auth_status: Mapped[str] = mapped_column(String(20), default="")
    driver_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    rfid_token_id: Mapped[int | None] = mapped_column(
        ForeignKey("rfid_tokens.id", ondelete="SET NULL"), nullable=True
    )
    membership_id: Mapped[int | None] = mapped_column(
        ForeignKey("memberships.id", ondelete="SET NULL"), nullable=True
    )
    company_code_id: Mapped[int | None] = mapped_column(
        ForeignKey("company_codes.id", ondelete="SET NULL"), nullable=True
    )
    price_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("price_groups.id", ondelete="SET NULL"), nullable=True
    )
    price_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("price_versions.id", ondelete="SET NULL"), nullable=True
    )
    currency: Mapped[str] = mapped_column(String(3))

    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    meter_start_wh: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # charger | first_sample (start missing or a 0 placeholder) | missing
    meter_start_source: Mapped[str] = mapped_column(String(16), default="charger")
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    meter_stop_wh: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    energy_wh: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    stop_reason: Mapped[str] = mapped_column(String(40), default="")

    # Idle-fee moments (domain.md §5): charging completed, and the cable left the car.
    car_full_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    unplugged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    charging_seen: Mapped[bool] = mapped_column(Boolean, default=False)
    low_power_count: Mapped[int] = mapped_column(Integer, default=0)
    low_power_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_seq_no: Mapped[int | None] = mapped_column(Integer, nullable=True)
    clock_corrected: Mapped[bool] = mapped_column(Boolean, default=False)

    # active → stopped (transaction over, cable still in) → completed; or interrupted.
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class MeterSample(Base):
    """One sampled value, normalised to Wh / W / A / V / %.

    The primary key is what a replay repeats (the charger's own timestamp, not ours), so
    a MeterValues sent again after a reboot is stored once.
    """

    __tablename__ = "meter_samples"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("charging_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    measurand: Mapped[str] = mapped_column(String(50), primary_key=True)
    phase: Mapped[str] = mapped_column(String(8), primary_key=True, default="")
    location: Mapped[str] = mapped_column(String(8), primary_key=True, default="")
    context: Mapped[str] = mapped_column(String(24), primary_key=True, default="")
    # The instant we trust: the charger's, unless its clock was implausible.
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime())
    value: Mapped[Decimal] = mapped_column(ExactDecimal())
    unit: Mapped[str] = mapped_column(String(16))
    seq_no: Mapped[int | None] = mapped_column(Integer, nullable=True)


class BridgeIncident(Base):
    """Something a person should look at: a stop for an unknown transaction, a charger
    clock we overrode, a session closed by the bridge."""

    __tablename__ = "bridge_incidents"
    __table_args__ = (Index("ix_bridge_incidents_open", "reviewed_at", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    ocpp_identity: Mapped[str] = mapped_column(String(48), default="")
    charge_point_id: Mapped[int | None] = mapped_column(
        ForeignKey("charge_points.id", ondelete="SET NULL"), nullable=True
    )
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("charging_sessions.id", ondelete="SET NULL"), nullable=True
    )
    detail: Mapped[str] = mapped_column(Text, default="")  # JSON
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SessionOutbox(Base):
    """A session-ended notice owed to the backend port, written in the same transaction
    as the session's end, so a failing port delays the notice but never loses it."""

    __tablename__ = "session_outbox"
    __table_args__ = (
        UniqueConstraint("session_id", "kind"),
        Index("ix_session_outbox_due", "delivered_at", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("charging_sessions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40), default="session_ended")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DriverAppTag(Base):
    """The idTag a driver's app-started sessions carry (`APP-` + 16 characters: fits 1.6's
    20), so the charger and our records name the driver like an RFID card would."""

    __tablename__ = "driver_app_tags"

    driver_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    id_tag: Mapped[str] = mapped_column(String(20), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChargerBootPolicy(Base):
    """An operator's refusal of a charger: its BootNotification is answered Rejected
    (an uncommissioned charger without a row here gets Pending)."""

    __tablename__ = "charger_boot_policies"

    charge_point_id: Mapped[int] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), primary_key=True
    )
    rejected: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
