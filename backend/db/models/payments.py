"""Card payments: Stripe customers and cards, payments and refunds in integer minor
units, paid-plan subscriptions, and the webhook events already handled.

A `Payment` row is written (status `pending`, with its idempotency key) and committed
*before* Stripe is called, so a crash between Stripe's answer and our commit leaves a
row that says what was being attempted: the next call finds the intent at Stripe by that
key and reconciles instead of charging again.

`session_ref` is the charging session's id, stored without a foreign key: the hold is
placed before the remote start, i.e. before the charger reports the transaction that
creates the `charging_sessions` row (see backend/services/sessions.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, UTCDateTime, utcnow


class PaymentCustomer(Base):
    """The driver's Customer at Stripe, created the first time it is needed."""

    __tablename__ = "payment_customers"

    driver_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    stripe_customer_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CardSetup(Base):
    """A SetupIntent handed to the app; re-read from Stripe until it settles."""

    __tablename__ = "card_setups"

    id: Mapped[int] = mapped_column(primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    setup_intent_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(32), default="requires_payment_method")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class PaymentCard(Base):
    """A saved card: what the driver sees of it. The number never reaches us."""

    __tablename__ = "payment_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    stripe_payment_method_id: Mapped[str] = mapped_column(String(64), unique=True)
    brand: Mapped[str] = mapped_column(String(20))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column(Integer)
    exp_year: Mapped[int] = mapped_column(Integer)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Removed cards stay for the payment history; they are detached at Stripe.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PlanBilling(Base):
    """The Stripe Product and Plan of a paid Plan, created lazily on first subscription."""

    __tablename__ = "plan_billing"

    plan_id: Mapped[int] = mapped_column(
        ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True
    )
    stripe_product_id: Mapped[str] = mapped_column(String(64))
    stripe_plan_id: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PlanSubscription(Base):
    """A driver's paid plan at Stripe Billing; its state comes from Stripe (webhooks or a
    re-read), the driver's plan row (`driver_plans`) follows it."""

    __tablename__ = "plan_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    driver_plan_id: Mapped[int] = mapped_column(
        ForeignKey("driver_plans.id", ondelete="CASCADE"), unique=True
    )
    driver_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(
        String(64), unique=True, nullable=True
    )
    status: Mapped[str] = mapped_column(String(24), default="pending")
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    latest_invoice_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    failure_message: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Payment(Base):
    """One attempt to take money from a driver's card, in integer minor units.

    kind: hold (per_session pre-authorization, captured at the end), extra (the part of a
    session above its hold), monthly (one charge per driver, site and period), plan (a
    subscription invoice). status: pending → authorized (holds) / succeeded, or
    requires_authentication, failed; holds then capturing → captured, releasing →
    released, or expired (the authorization lapsed before capture).
    """

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("session_ref", "kind", name="uq_payments_session_kind"),
        UniqueConstraint("driver_id", "site_id", "period", "kind", name="uq_payments_period"),
        Index("ix_payments_driver", "driver_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    session_ref: Mapped[int | None] = mapped_column(Integer, nullable=True)
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="SET NULL"), nullable=True
    )
    period: Mapped[str | None] = mapped_column(String(7), nullable=True)  # YYYY-MM (monthly)
    kind: Mapped[str] = mapped_column(String(12))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(Integer)  # asked for (held, for a hold)
    final_amount_minor: Mapped[int | None] = mapped_column(Integer, nullable=True)  # holds
    captured_minor: Mapped[int] = mapped_column(Integer, default=0)
    refunded_minor: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(24), default="pending")
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(
        String(64), unique=True, nullable=True
    )
    stripe_invoice_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    payment_method_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    failure_code: Mapped[str] = mapped_column(String(64), default="")
    failure_message: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Refund(Base):
    """Money given back on a payment (full or partial), by operator staff or an admin.

    `period` (YYYY-MM, in the site's time zone) is the settlement period the refund is
    carried into: a settled period never changes (domain.md §5, Settlement).
    """

    __tablename__ = "payment_refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    session_ref: Mapped[int | None] = mapped_column(Integer, nullable=True)
    operator_id: Mapped[int | None] = mapped_column(
        ForeignKey("operators.id", ondelete="SET NULL"), nullable=True
    )
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="SET NULL"), nullable=True
    )
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class StripeEvent(Base):
    """A webhook event seen: handled once, whatever order or how often it arrives."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="received")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
