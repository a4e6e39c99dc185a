"""What billing an ended session leaves behind: its priced charge, the documents a driver
gets (receipts, correction notes, a hotel guest's charging-service statement) and the
counters that number them without gaps.

A `SessionCharge` is the priced result of one charging session: amounts in minor units,
the lines, the inputs and the explanation as JSON, the price version it was priced
with. Every line is traceable to the session's meter readings and the tariff version.

A `Receipt` is a document as it was issued: numbers, seller and buyer, lines and totals
are copied into it (a later change of the driver's address or of a price never changes a
document already issued). Rendering (JSON, PDF, language) reads only the row.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, ExactDecimal, UTCDateTime, utcnow


class ReceiptCounter(Base):
    """The last number used in a series (e.g. "WP") and year. Locked FOR UPDATE by the
    transaction that issues a document, so numbers are allocated with the document in
    one transaction: no gaps (a rollback returns the number), no duplicates."""

    __tablename__ = "receipt_counters"

    series: Mapped[str] = mapped_column(String(24), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class Receipt(Base):
    """A document issued to a driver.

    kind: `receipt` (a paid per_session session, or a month of monthly sessions),
    `correction` (a refund on a receipt; references it), `service_statement` (a hotel
    guest's operator_invoiced session: to be invoiced by the operator, not a receipt).
    `source_key` names what the document is for ("session:12", "month:5:3:2026-11",
    "refund:7", "guest:12"), so a document is issued once, whatever retries happen.
    """

    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint("series", "year", "seq", name="uq_receipts_series_year_seq"),
        Index("ix_receipts_driver", "driver_id", "issued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    number: Mapped[str] = mapped_column(String(40), unique=True)
    series: Mapped[str] = mapped_column(String(24))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    source_key: Mapped[str] = mapped_column(String(80), unique=True)
    driver_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="SET NULL"), nullable=True
    )
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("charging_sessions.id", ondelete="SET NULL"), nullable=True
    )
    period: Mapped[str | None] = mapped_column(String(7), nullable=True)  # YYYY-MM (monthly)
    payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("payments.id", ondelete="SET NULL"), nullable=True
    )
    refund_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_refunds.id", ondelete="SET NULL"), nullable=True
    )
    corrects_id: Mapped[int | None] = mapped_column(
        ForeignKey("receipts.id", ondelete="SET NULL"), nullable=True
    )
    currency: Mapped[str] = mapped_column(String(3))
    vat_rate: Mapped[Decimal] = mapped_column(ExactDecimal())
    net_minor: Mapped[int] = mapped_column(BigInteger)
    vat_minor: Mapped[int] = mapped_column(BigInteger)
    gross_minor: Mapped[int] = mapped_column(BigInteger)
    card_brand: Mapped[str] = mapped_column(String(20), default="")
    card_last4: Mapped[str] = mapped_column(String(4), default="")
    timezone: Mapped[str] = mapped_column(String(64))  # the site's: times are shown in it
    # JSON: seller, buyer, site, charge points, lines, sessions, references.
    content: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SessionCharge(Base):
    """The priced result of one ended charging session and where its billing stands.

    status: priced → paid | free | payment_pending | payment_failed (per_session);
    awaiting_period → closing → period_charged → paid | free (monthly);
    operator_invoiced (P2 guests); awaiting_cost (variable cost, priced at period close);
    unbillable (nothing to price it with, or nobody to bill: `failure` says why).
    """

    __tablename__ = "session_charges"
    __table_args__ = (
        Index("ix_session_charges_period", "driver_id", "site_id", "period", "billing_mode"),
        Index("ix_session_charges_operator", "operator_id", "billing_mode", "period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("charging_sessions.id", ondelete="CASCADE"), unique=True
    )
    driver_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    operator_id: Mapped[int | None] = mapped_column(
        ForeignKey("operators.id", ondelete="SET NULL"), nullable=True
    )
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="SET NULL"), nullable=True
    )
    charge_point_id: Mapped[int | None] = mapped_column(
        ForeignKey("charge_points.id", ondelete="SET NULL"), nullable=True
    )
    company_code_id: Mapped[int | None] = mapped_column(
        ForeignKey("company_codes.id", ondelete="SET NULL"), nullable=True, index=True
    )
    price_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("price_versions.id", ondelete="SET NULL"), nullable=True
    )
    price_version_ref: Mapped[str] = mapped_column(String(60), default="")
    plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("plans.id", ondelete="SET NULL"), nullable=True
    )
    billing_mode: Mapped[str] = mapped_column(String(20))
    model: Mapped[str] = mapped_column(String(20), default="")
    status: Mapped[str] = mapped_column(String(20))
    failure: Mapped[str] = mapped_column(String(300), default="")
    currency: Mapped[str] = mapped_column(String(3))
    vat_rate: Mapped[Decimal] = mapped_column(ExactDecimal())
    gross_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    net_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    vat_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    energy_wh: Mapped[int] = mapped_column(BigInteger, default=0)
    idle_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    meter_start_wh: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    meter_stop_wh: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    car_full_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    period: Mapped[str] = mapped_column(String(7))  # of the session's end, site time zone
    lines: Mapped[str] = mapped_column(Text, default="[]")  # JSON
    inputs: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    explanation: Mapped[str] = mapped_column(Text, default="[]")  # JSON
    payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("payments.id", ondelete="SET NULL"), nullable=True
    )
    receipt_id: Mapped[int | None] = mapped_column(
        ForeignKey("receipts.id", ondelete="SET NULL"), nullable=True
    )
    priced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
