"""Operators (site owners), their contracts and price groups."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db.base import Base, ExactDecimal, UTCDateTime, utcnow


class Operator(Base):
    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    legal_name: Mapped[str] = mapped_column(String(300), default="")
    tax_id: Mapped[str] = mapped_column(String(40), default="")
    country: Mapped[str] = mapped_column(String(2))
    email: Mapped[str] = mapped_column(String(320), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    # Stripe Connect account payouts are transferred to (acct_...); none: bank transfer.
    stripe_account_id: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    contracts: Mapped[list[OperatorContract]] = relationship(back_populates="operator")
    price_groups: Mapped[list[PriceGroup]] = relationship(back_populates="operator")


class OperatorContract(Base):
    """The B2B contract between platform and operator (domain.md §2 and §5, Settlement)."""

    __tablename__ = "operator_contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    business_case: Mapped[str] = mapped_column(String(8))
    currency: Mapped[str] = mapped_column(String(3))
    # Network-management fee: a share of net revenue, plus a fixed net amount per charge
    # point per month (minor units), plus (P2) a net amount per kWh. Any may be zero.
    fee_percent: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal("0"))
    fee_fixed_per_cp_minor: Mapped[int] = mapped_column(Integer, default=0)
    fee_per_kwh_net: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal("0"))
    # PUB only: the net price per kWh the platform pays the operator.
    agreed_price_per_kwh_net: Mapped[Decimal | None] = mapped_column(ExactDecimal(), nullable=True)
    operator_invoices_users: Mapped[bool] = mapped_column(Boolean, default=False)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    operator: Mapped[Operator] = relationship(back_populates="contracts")


class PriceGroup(Base):
    """A class of drivers priced alike at an operator's sites: company/VIP or public."""

    __tablename__ = "price_groups"
    __table_args__ = (UniqueConstraint("operator_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    operator: Mapped[Operator] = relationship(back_populates="price_groups")
