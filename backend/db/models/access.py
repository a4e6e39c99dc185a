"""Who may charge where: company codes, memberships, RFID tokens, favourites, throttling."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db.base import Base, ExactDecimal, UTCDateTime, utcnow
from backend.db.models.sites import Site

company_code_sites = Table(
    "company_code_sites",
    Base.metadata,
    Column("company_code_id", ForeignKey("company_codes.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
)

membership_sites = Table(
    "membership_sites",
    Base.metadata,
    Column("membership_id", ForeignKey("memberships.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class CompanyCode(Base):
    """A secret an operator hands to residents, employees or hotel guests.

    Only a keyed hash is stored: the plain code is shown once, when it is created, so a
    database leak does not open anybody's garage.
    """

    __tablename__ = "company_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(8))  # last characters, to tell codes apart
    label: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16))
    price_group_id: Mapped[int] = mapped_column(ForeignKey("price_groups.id"))
    billing_mode: Mapped[str] = mapped_column(String(20))
    # Temporary codes: the window, entered in the site's local time and stored in UTC.
    timezone: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    max_sessions: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_kwh: Mapped[Decimal | None] = mapped_column(ExactDecimal(), nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    sites: Mapped[list[Site]] = relationship(secondary=company_code_sites)


class Membership(Base):
    """A driver's right to use an operator's sites in a price group, from a code or RFID."""

    __tablename__ = "memberships"
    __table_args__ = (Index("ix_memberships_driver_active", "driver_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    price_group_id: Mapped[int] = mapped_column(ForeignKey("price_groups.id"))
    company_code_id: Mapped[int | None] = mapped_column(
        ForeignKey("company_codes.id", ondelete="SET NULL"), nullable=True, index=True
    )
    source: Mapped[str] = mapped_column(String(16))
    billing_mode: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    sites: Mapped[list[Site]] = relationship(secondary=membership_sites)


class RfidToken(Base):
    """An OCPP idTag handed by an operator to one of its company drivers."""

    __tablename__ = "rfid_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    id_tag: Mapped[str] = mapped_column(String(36), unique=True)  # 1.6: 20, 2.0.1: 36
    driver_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    price_group_id: Mapped[int] = mapped_column(ForeignKey("price_groups.id"))
    label: Mapped[str] = mapped_column(String(200), default="")
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Favourite(Base):
    __tablename__ = "favourites"

    driver_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    charge_point_id: Mapped[int] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ThrottleEvent(Base):
    """Failed attempts (e.g. wrong company codes) for the SQL throttle of the embedded default."""

    __tablename__ = "throttle_events"
    __table_args__ = (Index("ix_throttle_events_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
