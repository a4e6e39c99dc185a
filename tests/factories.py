"""Arrange test data directly in the database; the behaviour under test goes through the API."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from backend.db.models import (
    ChargePoint,
    Connector,
    Driver,
    Operator,
    PriceGroup,
    Site,
    User,
)
from backend.db.models.enums import Role

__all__ = ["PASSWORD", "Role", "User", "charge_point", "login", "operator", "site", "user"]
from backend.security.passwords import hash_password

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)
_HASH = hash_password(PASSWORD)  # argon2 is slow on purpose; hash once for all fixtures


@dataclass
class OperatorSetup:
    operator: Operator
    company: PriceGroup
    public: PriceGroup


def operator(s: Session, name: str = "Operator", country: str = "PL") -> OperatorSetup:
    op = Operator(name=f"{name} {next(_seq)}", country=country)
    s.add(op)
    s.flush()
    company = PriceGroup(operator_id=op.id, name="Company", kind="company")
    public = PriceGroup(operator_id=op.id, name="Public", kind="public")
    s.add_all([company, public])
    s.flush()
    return OperatorSetup(op, company, public)


def site(
    s: Session,
    setup: OperatorSetup,
    *,
    visibility: str = "public",
    lat: float = 52.2297,
    lon: float = 21.0122,
    country: str = "PL",
    timezone: str = "Europe/Warsaw",
    name: str | None = None,
) -> Site:
    currency, vat = {"PL": ("PLN", "0.23"), "NO": ("NOK", "0.25")}[country]
    st = Site(
        operator_id=setup.operator.id,
        name=name or f"Site {next(_seq)}",
        country=country,
        latitude=lat,
        longitude=lon,
        timezone=timezone,
        currency=currency,
        vat_rate=Decimal(vat),
        visibility=visibility,
        default_price_group_id=setup.public.id,
        city="Warszawa",
    )
    s.add(st)
    s.flush()
    return st


def charge_point(
    s: Session,
    st: Site,
    *,
    connectors: int = 2,
    plug: str = "type2",
    power_w: int = 22000,
    status: str = "Available",
) -> ChargePoint:
    cp = ChargePoint(
        site_id=st.id,
        ocpp_identity=f"CP-{next(_seq):06d}",
        vendor="Acme",
        model="AC22",
        status="online",
    )
    s.add(cp)
    s.flush()
    for n in range(1, connectors + 1):
        s.add(
            Connector(
                charge_point_id=cp.id,
                connector_id=n,
                plug_type=plug,
                max_power_w=power_w,
                status=status,
            )
        )
    s.flush()
    return cp


def user(
    s: Session,
    role: Role = Role.DRIVER,
    *,
    operator_id: int | None = None,
    email: str | None = None,
) -> User:
    u = User(
        email=email or f"user{next(_seq)}@example.com",
        password_hash=_HASH,
        role=role.value,
        operator_id=operator_id,
    )
    s.add(u)
    s.flush()
    if role == Role.DRIVER:
        s.add(Driver(user_id=u.id, full_name="Test Driver", language="pl"))
        s.flush()
    return u


def login(client, u: User) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Authorization header for a user, obtained through the real login endpoint."""
    r = client.post("/auth/login", json={"email": u.email, "password": PASSWORD})
    assert r.status_code == 200, r.json
    return {"Authorization": f"Bearer {r.json['access_token']}"}


# Appended for the catalogue tests (appending keeps the imports above untouched).
from datetime import UTC, datetime  # noqa: E402

from backend.db.models import Membership  # noqa: E402


def membership(
    s: Session,
    driver: User,
    setup: OperatorSetup,
    sites: list[Site],
    *,
    price_group: PriceGroup | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    revoked_at: datetime | None = None,
) -> Membership:
    """A driver's membership of an operator's sites (company group unless told otherwise),
    as a redeemed code would leave it; starts long before the tests' clock by default."""
    m = Membership(
        driver_id=driver.id,
        operator_id=setup.operator.id,
        price_group_id=(price_group or setup.company).id,
        source="code",
        billing_mode="per_session",
        starts_at=starts_at or datetime(2026, 1, 1, tzinfo=UTC),
        ends_at=ends_at,
        revoked_at=revoked_at,
    )
    m.sites = list(sites)
    s.add(m)
    s.flush()
    return m


# Appended for the OCPP bridge tests.
from backend.db.models import PriceVersion, RfidToken  # noqa: E402

CHARGER_PASSWORD = "charger-secret-0123456789abcdef"
_CHARGER_HASH = hash_password(CHARGER_PASSWORD)


def charger_password(s: Session, cp: ChargePoint, *, hashed: str | None = None) -> str:
    """Give a charge point the shared test password (its argon2 hash, made once)."""
    cp.password_hash = hashed or _CHARGER_HASH
    s.flush()
    return CHARGER_PASSWORD


def rfid_token(
    s: Session,
    setup: OperatorSetup,
    id_tag: str,
    *,
    driver: User | None = None,
    blocked_at: datetime | None = None,
) -> RfidToken:
    token = RfidToken(
        operator_id=setup.operator.id,
        id_tag=id_tag.upper(),
        driver_id=driver.id if driver else None,
        price_group_id=setup.company.id,
        blocked_at=blocked_at,
    )
    s.add(token)
    s.flush()
    return token


def price_version(
    s: Session,
    st: Site,
    group: PriceGroup,
    *,
    energy_per_kwh: str = "2.40",
    effective_from: datetime | None = None,
    revision: int = 1,
) -> PriceVersion:
    """A fixed-price version (hotel-model fields zero), in force from 2026-01-01."""
    row = PriceVersion(
        site_id=st.id,
        price_group_id=group.id,
        revision=revision,
        model="fixed",
        currency=st.currency,
        vat_rate=st.vat_rate,
        energy_per_kwh=Decimal(energy_per_kwh),
        idle_per_minute=Decimal(0),
        billing_mode="per_session",
        effective_from=effective_from or datetime(2026, 1, 1, tzinfo=UTC),
    )
    s.add(row)
    s.flush()
    return row
