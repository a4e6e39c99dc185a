"""A variable-cost (housing co-op) site's billing period, closed (domain.md §3).

At the end of the month the site's actual electricity cost is computed from its supply
meter readings and its supply tariff, and shared over the drivers in proportion to the
kWh they charged (largest remainder, exact to the grosz); what the meter also fed
besides is passed through to the owner. `CoopPeriod` keeps what was computed from what:
the tariff (id, group, invoice form), the two meter readings (ids and register values),
the supplier's invoice lines, the cost per kWh, the owner's rest; `CoopShare` each
driver's share with the sessions it covers. Written once, never updated: a period is
closed once (late sessions go into the next period).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, ExactDecimal, UTCDateTime, utcnow


class CoopPeriod(Base):
    __tablename__ = "coop_periods"
    __table_args__ = (
        UniqueConstraint("site_id", "period"),
        Index("ix_coop_periods_operator", "operator_id", "period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    operator_id: Mapped[int | None] = mapped_column(
        ForeignKey("operators.id", ondelete="SET NULL"), nullable=True
    )
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM, the site's time zone
    timezone: Mapped[str] = mapped_column(String(64))
    # The supply tariff the cost was computed with.
    tariff_id: Mapped[str] = mapped_column(String(40))
    tariff_group: Mapped[str] = mapped_column(String(10))
    invoice_form: Mapped[str] = mapped_column(String(10))
    # The meter readings the metered energy comes from (ids, and their values as used).
    start_reading_id: Mapped[int | None] = mapped_column(
        ForeignKey("site_meter_readings.id", ondelete="SET NULL"), nullable=True
    )
    end_reading_id: Mapped[int | None] = mapped_column(
        ForeignKey("site_meter_readings.id", ondelete="SET NULL"), nullable=True
    )
    start_read_on: Mapped[date] = mapped_column(Date)
    start_register_kwh: Mapped[Decimal] = mapped_column(ExactDecimal())
    end_read_on: Mapped[date] = mapped_column(Date)
    end_register_kwh: Mapped[Decimal] = mapped_column(ExactDecimal())
    metered_kwh: Mapped[Decimal] = mapped_column(ExactDecimal())
    drivers_kwh: Mapped[Decimal] = mapped_column(ExactDecimal())
    owner_kwh: Mapped[Decimal] = mapped_column(ExactDecimal())
    currency: Mapped[str] = mapped_column(String(3))
    vat_rate: Mapped[Decimal] = mapped_column(ExactDecimal())
    cost_net_minor: Mapped[int] = mapped_column(BigInteger)
    cost_vat_minor: Mapped[int] = mapped_column(BigInteger)
    cost_gross_minor: Mapped[int] = mapped_column(BigInteger)
    cost_per_kwh_net: Mapped[Decimal | None] = mapped_column(ExactDecimal(), nullable=True)
    cost_per_kwh_gross: Mapped[Decimal | None] = mapped_column(ExactDecimal(), nullable=True)
    owner_net_minor: Mapped[int] = mapped_column(BigInteger)
    owner_vat_minor: Mapped[int] = mapped_column(BigInteger)
    owner_gross_minor: Mapped[int] = mapped_column(BigInteger)
    invoice_lines: Mapped[str] = mapped_column(Text, default="[]")  # JSON
    explanation: Mapped[str] = mapped_column(Text, default="[]")  # JSON
    closed_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CoopShare(Base):
    """One driver's share of a closed co-op period: the kWh of the driver's sessions
    (`session_ids`, JSON) and the exact part of the cost they carry."""

    __tablename__ = "coop_shares"
    __table_args__ = (UniqueConstraint("period_id", "driver_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(
        ForeignKey("coop_periods.id", ondelete="CASCADE"), index=True
    )
    driver_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    energy_wh: Mapped[int] = mapped_column(BigInteger)
    kwh: Mapped[Decimal] = mapped_column(ExactDecimal())
    net_minor: Mapped[int] = mapped_column(BigInteger)
    vat_minor: Mapped[int] = mapped_column(BigInteger)
    gross_minor: Mapped[int] = mapped_column(BigInteger)
    session_ids: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of ints
