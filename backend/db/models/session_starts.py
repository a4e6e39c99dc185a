"""A driver's start from the app: the request that comes before the charging session.

The bridge creates the `charging_sessions` row only when the charger reports the
transaction (StartTransaction / TransactionEvent Started), after the card hold and the
remote start. A `SessionStart` is what exists before that: the app polls it, the card
hold is keyed to it (`payments.session_ref = -id` until the session exists, then the
session's id), and it is linked to the session the charger opened for the driver's app
idTag at that connector.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, UTCDateTime, utcnow


class SessionStart(Base):
    __tablename__ = "session_starts"
    __table_args__ = (
        Index("ix_session_starts_open", "charge_point_id", "connector_id", "status"),
        Index("ix_session_starts_driver", "driver_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    charge_point_id: Mapped[int] = mapped_column(ForeignKey("charge_points.id", ondelete="CASCADE"))
    connector_id: Mapped[int] = mapped_column(Integer)
    id_tag: Mapped[str] = mapped_column(String(20))
    billing_mode: Mapped[str] = mapped_column(String(24))
    # hold_placed | card_on_file | no_payment_needed (payments' StartPayment.decision)
    payment_decision: Mapped[str] = mapped_column(String(24), default="")
    # pending (asking card / charger) → accepted (charger said yes) → started (linked);
    # or failed (declined card, charger refused/offline/silent, never plugged in).
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error_code: Mapped[str] = mapped_column(String(40), default="")
    error: Mapped[str] = mapped_column(String(300), default="")
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("charging_sessions.id", ondelete="SET NULL"), unique=True, nullable=True
    )
    # Push notices already sent for the session (session started, charging complete).
    started_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    full_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
