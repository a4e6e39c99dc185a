"""Settlements between the platform and an operator, their items, and payouts.

A `Settlement` is the B2B document of one operator's period (YYYY-MM) as it was
computed: the contract's terms are copied in (a later contract change never alters a
settled period), with its lines, totals (net, VAT on top, gross) and which way the money
goes: the platform pays the operator (`payout`), bills it (`invoice`, the hotel case),
or carries a negative balance into the next settlement (`carried`).

A `SettlementItem` is one thing the settlement counted: a receipt (revenue), a refund
(revenue given back), a session (energy delivered; a hotel guest's statement amount) or
the previous settlement's balance. Its `source_key` is unique across all settlements,
so a receipt or a refund is settled once, whatever reruns or races happen, and what
arrives after its period closed lands in the next settlement (domain.md §5).

A `Payout` is the money sent for a settlement: through Stripe Connect when the
operator has a connected account and real Stripe is configured, otherwise recorded for
a bank transfer that platform staff confirm. Committed before Stripe is asked, with an
idempotency key, like payments.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, ExactDecimal, UTCDateTime, utcnow


class Settlement(Base):
    __tablename__ = "settlements"
    __table_args__ = (UniqueConstraint("operator_id", "period", "currency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(7))
    contract_id: Mapped[int | None] = mapped_column(
        ForeignKey("operator_contracts.id", ondelete="SET NULL"), nullable=True
    )
    business_case: Mapped[str] = mapped_column(String(8))
    currency: Mapped[str] = mapped_column(String(3))
    vat_rate: Mapped[Decimal] = mapped_column(ExactDecimal())
    # The contract's terms as applied (copied: contracts may change later).
    terms: Mapped[str] = mapped_column(Text)  # JSON
    charge_points: Mapped[int] = mapped_column(Integer)
    energy_kwh: Mapped[Decimal] = mapped_column(ExactDecimal())
    revenue_net_minor: Mapped[int] = mapped_column(BigInteger)
    fee_net_minor: Mapped[int] = mapped_column(BigInteger)
    direction: Mapped[str] = mapped_column(String(10))  # payout | invoice | carried | none
    net_minor: Mapped[int] = mapped_column(BigInteger)
    vat_minor: Mapped[int] = mapped_column(BigInteger)
    gross_minor: Mapped[int] = mapped_column(BigInteger)
    lines: Mapped[str] = mapped_column(Text)  # JSON
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SettlementItem(Base):
    __tablename__ = "settlement_items"
    __table_args__ = (Index("ix_settlement_items_settlement", "settlement_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlements.id", ondelete="CASCADE"))
    # receipt:<id> | refund:<id> | session:<id> | balance:<settlement id>
    source_key: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    origin_period: Mapped[str] = mapped_column(String(7))  # the period it belongs to
    net_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    energy_wh: Mapped[int] = mapped_column(BigInteger, default=0)
    receipt_id: Mapped[int | None] = mapped_column(
        ForeignKey("receipts.id", ondelete="SET NULL"), nullable=True
    )
    refund_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_refunds.id", ondelete="SET NULL"), nullable=True
    )
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("charging_sessions.id", ondelete="SET NULL"), nullable=True
    )
    reference: Mapped[str] = mapped_column(String(60), default="")  # a document number


class Payout(Base):
    __tablename__ = "payouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(
        ForeignKey("settlements.id", ondelete="CASCADE"), unique=True
    )
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # gross: net + VAT
    currency: Mapped[str] = mapped_column(String(3))
    # stripe: a Connect transfer; bank: a transfer platform staff make and confirm.
    method: Mapped[str] = mapped_column(String(10))
    # pending → paid | failed (stripe); to_transfer → paid (bank)
    status: Mapped[str] = mapped_column(String(12))
    destination: Mapped[str] = mapped_column(String(64), default="")
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    provider_id: Mapped[str] = mapped_column(String(64), default="")
    reference: Mapped[str] = mapped_column(String(120), default="")
    failure: Mapped[str] = mapped_column(String(300), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
