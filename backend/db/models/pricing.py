"""Prices operators set (versioned), driver plans, and the site supply side (meter, tariff)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, ExactDecimal, UTCDateTime, utcnow


class PriceVersion(Base):
    """An operator's prices for a site and price group, in force from `effective_from`.

    Rows are never updated: a change is a new row, so every session can name the exact
    version it was priced with (domain.md §3: keep history).
    """

    __tablename__ = "price_versions"
    __table_args__ = (
        UniqueConstraint("site_id", "price_group_id", "revision"),
        Index("ix_price_versions_lookup", "site_id", "price_group_id", "effective_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    price_group_id: Mapped[int] = mapped_column(ForeignKey("price_groups.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)  # 1, 2, … per site and group
    model: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    vat_rate: Mapped[Decimal] = mapped_column(ExactDecimal())
    energy_per_kwh: Mapped[Decimal] = mapped_column(ExactDecimal())  # gross
    idle_per_minute: Mapped[Decimal] = mapped_column(ExactDecimal())  # gross
    idle_window_start: Mapped[str | None] = mapped_column(String(5), nullable=True)  # HH:MM
    idle_window_end: Mapped[str | None] = mapped_column(String(5), nullable=True)
    idle_grace_minutes: Mapped[int] = mapped_column(Integer, default=0)
    billing_mode: Mapped[str] = mapped_column(String(20))
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Plan(Base):
    """A driver plan (seed 000): the free pay-per-use plan or a paid subscription."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3))
    price_per_kwh: Mapped[Decimal] = mapped_column(ExactDecimal())  # gross, at PUB stations
    monthly_fee: Mapped[Decimal] = mapped_column(ExactDecimal())  # gross; 0 = pay-per-use
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DriverPlan(Base):
    """A driver's plan over time; at most one without an end per driver and currency."""

    __tablename__ = "driver_plans"
    __table_args__ = (Index("ix_driver_plans_driver", "driver_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    status: Mapped[str] = mapped_column(String(20), default="active")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SiteSupply(Base):
    """How a site is supplied with electricity: its connection and its supply tariff."""

    __tablename__ = "site_supplies"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    tariff_id: Mapped[str] = mapped_column(String(40))
    voltage_kv: Mapped[Decimal] = mapped_column(ExactDecimal())
    contracted_kw: Mapped[Decimal] = mapped_column(ExactDecimal())
    fuse_a: Mapped[Decimal | None] = mapped_column(ExactDecimal(), nullable=True)
    tariff_group: Mapped[str] = mapped_column(String(10))
    group_since: Mapped[date] = mapped_column(Date)
    invoice_form: Mapped[str] = mapped_column(String(10))
    metering_systems: Mapped[int] = mapped_column(Integer, default=1)


class MeterReading(Base):
    """A reading of the site's supply meter, entered by the operator (kWh register)."""

    __tablename__ = "site_meter_readings"
    __table_args__ = (UniqueConstraint("site_id", "read_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    read_on: Mapped[date] = mapped_column(Date)
    register_kwh: Mapped[Decimal] = mapped_column(ExactDecimal())
    entered_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
