"""Where charging happens: sites, their charge points and connectors."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db.base import Base, ExactDecimal, UTCDateTime, utcnow


class Site(Base):
    __tablename__ = "sites"
    __table_args__ = (
        # The catalogue's bounding-box prefilter walks this index.
        Index("ix_sites_lat_lon", "latitude", "longitude"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    street: Mapped[str] = mapped_column(String(200), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(2))
    # Coordinates are not money: binary floats are the right tool for geometry.
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    vat_rate: Mapped[Decimal] = mapped_column(ExactDecimal())
    visibility: Mapped[str] = mapped_column(String(16), index=True)
    # The group that applies to drivers without a membership (public/standard).
    default_price_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("price_groups.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The plug types and power tiers of the site's connectors, for the catalogue's
    # filters; kept by backend.services.catalogue_summary, NULL when never computed.
    connector_bits: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    charge_points: Mapped[list[ChargePoint]] = relationship(back_populates="site")


class ChargePoint(Base):
    __tablename__ = "charge_points"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    ocpp_identity: Mapped[str] = mapped_column(String(48), unique=True)
    # OCPP security profile 1/2 Basic-auth password, argon2-hashed.
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    vendor: Mapped[str] = mapped_column(String(50), default="")
    model: Mapped[str] = mapped_column(String(50), default="")
    serial_number: Mapped[str] = mapped_column(String(50), default="")
    firmware_version: Mapped[str] = mapped_column(String(50), default="")
    ocpp_version: Mapped[str] = mapped_column(String(10), default="")
    commissioned: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="unknown")
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    site: Mapped[Site] = relationship(back_populates="charge_points")
    connectors: Mapped[list[Connector]] = relationship(
        back_populates="charge_point", order_by="Connector.connector_id"
    )


class Connector(Base):
    __tablename__ = "connectors"
    __table_args__ = (UniqueConstraint("charge_point_id", "connector_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    charge_point_id: Mapped[int] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), index=True
    )
    connector_id: Mapped[int] = mapped_column(Integer)  # OCPP connectorId, 1..n
    plug_type: Mapped[str] = mapped_column(String(16), index=True)
    # Watts as an integer so the catalogue can filter by power in SQL on any database.
    max_power_w: Mapped[int] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(16), default="Unknown", index=True)
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    charge_point: Mapped[ChargePoint] = relationship(back_populates="connectors")
