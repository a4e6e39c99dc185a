"""Charger operations: health monitoring (domain.md §3, "monitored every 10 seconds; on a
fault the system automatically tries to restart the charger") and firmware campaigns
("charger software is kept up to date").

`ChargerHealth` is one row per charger holding where its restart ladder stands, so the
limits survive a bridge restart and a charger moving to another bridge node.
`HealthAction` is the history an operator reads: every fault, reset, recovery, offline
spell and operator command, with its result.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, UTCDateTime, utcnow


class ChargerHealth(Base):
    """Where a charger's automatic-restart ladder stands."""

    __tablename__ = "charger_health"

    charge_point_id: Mapped[int] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), primary_key=True
    )
    # ok | faulted (a ladder is running) | needs_attention (limits reached; we stopped)
    state: Mapped[str] = mapped_column(String(20), default="ok")
    # The last reset of the current ladder: "" (none yet) | soft_reset | hard_reset
    step: Mapped[str] = mapped_column(String(20), default="")
    step_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    fault_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error_code: Mapped[str] = mapped_column(String(50), default="")
    resets_in_episode: Mapped[int] = mapped_column(Integer, default=0)
    # Ladders that ended still faulted since the last recovery: the back-off exponent.
    failed_ladders: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Marked offline for silence at this moment; cleared once heard from again.
    silent_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class HealthAction(Base):
    """One step of a charger's health history: what happened or was done, why, and how
    the charger answered."""

    __tablename__ = "health_actions"
    __table_args__ = (Index("ix_health_actions_charger_at", "charge_point_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    charge_point_id: Mapped[int] = mapped_column(ForeignKey("charge_points.id", ondelete="CASCADE"))
    # fault | soft_reset | hard_reset | restart_failed | needs_attention | recovered |
    # offline | online | unlock | availability
    action: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(String(300), default="")
    # sent | Accepted | Rejected | timeout | offline | error | ok | … (the charger's word)
    result: Mapped[str] = mapped_column(String(100), default="")
    automatic: Mapped[bool] = mapped_column(Boolean, default=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FirmwareCampaign(Base):
    """An operator's firmware update for one charger model, from a given moment on."""

    __tablename__ = "firmware_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    vendor: Mapped[str] = mapped_column(String(50), default="")  # "" = any vendor
    model: Mapped[str] = mapped_column(String(50))
    firmware_version: Mapped[str] = mapped_column(String(50))
    location: Mapped[str] = mapped_column(String(512))
    retrieve_at: Mapped[datetime] = mapped_column(UTCDateTime())
    max_retries: Mapped[int] = mapped_column(Integer, default=2)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FirmwareJob(Base):
    """One charger's part of a campaign.

    pending → sent → downloading → downloaded → installing → installed; or failed once
    its attempts (1 + the campaign's max_retries) are used up. Between attempts the job
    is pending again with `next_attempt_at` set.
    """

    __tablename__ = "firmware_jobs"
    __table_args__ = (
        UniqueConstraint("campaign_id", "charge_point_id", name="uq_firmware_jobs_charger"),
        Index("ix_firmware_jobs_charger_status", "charge_point_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("firmware_campaigns.id", ondelete="CASCADE"), index=True
    )
    charge_point_id: Mapped[int] = mapped_column(ForeignKey("charge_points.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    charger_status: Mapped[str] = mapped_column(String(40), default="")  # the last OCPP word
    last_error: Mapped[str] = mapped_column(String(300), default="")
    version_before: Mapped[str] = mapped_column(String(50), default="")
    installed_version: Mapped[str] = mapped_column(String(50), default="")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
