"""Arranging billing tests (no tests here): sites priced by each model, drivers with cards
on the fake gateway, ended sessions as the bridge leaves them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from backend.adapters.fake_payments import FakeGateway
from backend.db.models import (
    ChargePoint,
    ChargingSession,
    CompanyCode,
    DriverPlan,
    Membership,
    Plan,
    PriceVersion,
    Site,
    User,
)
from backend.services import cards
from backend.services.payments import Billing
from tests import factories as f

WARSAW = ZoneInfo("Europe/Warsaw")
_seq = itertools.count(1)


def local(*args: int) -> datetime:
    """A Warsaw wall-clock moment, as an aware datetime."""
    return datetime(*args, tzinfo=WARSAW)  # type: ignore[misc]


@dataclass
class Place:
    setup: f.OperatorSetup
    site: Site
    cp: ChargePoint


def place(
    s: Session, *, country: str = "PL", timezone: str = "Europe/Warsaw", name: str | None = None
) -> Place:
    setup = f.operator(s, name or "Hotel Bałtyk", country=country)
    setup.operator.legal_name = f"{setup.operator.name} sp. z o.o."
    site = f.site(s, setup, country=country, timezone=timezone, name=name or "Hotel Bałtyk Sopot")
    site.street, site.postal_code, site.city = "ul. Powstańców Warszawy 12", "81-718", "Sopot"
    cp = f.charge_point(s, site)
    s.flush()
    return Place(setup, site, cp)


def price(
    s: Session,
    p: Place,
    *,
    model: str = "fixed",
    energy: str = "2.40",
    idle: str = "0",
    window: tuple[str, str] | None = None,
    grace: int = 0,
    billing_mode: str = "per_session",
    group: Any = None,
    effective_from: datetime | None = None,
    revision: int = 1,
) -> PriceVersion:
    row = PriceVersion(
        site_id=p.site.id,
        price_group_id=(group or p.setup.public).id,
        revision=revision,
        model=model,
        currency=p.site.currency,
        vat_rate=p.site.vat_rate,
        energy_per_kwh=Decimal(energy),
        idle_per_minute=Decimal(idle),
        idle_window_start=window[0] if window else None,
        idle_window_end=window[1] if window else None,
        idle_grace_minutes=grace,
        billing_mode=billing_mode,
        effective_from=effective_from or datetime(2026, 1, 1, tzinfo=UTC),
    )
    s.add(row)
    s.flush()
    return row


def driver(s: Session, *, language: str = "pl", name: str = "Zażółć Gęślą") -> User:
    u = f.user(s)
    d = u.driver
    assert d is not None
    d.full_name, d.language = name, language
    d.billing_name = name
    d.billing_street, d.billing_postal_code, d.billing_city = "ul. Długa 5", "00-238", "Łódź"
    d.billing_country = "PL"
    s.flush()
    return u


def card(s: Session, gw: FakeGateway, u: User, number: str = "4242424242424242") -> str:
    """A saved default card, as the app + Stripe would leave it."""
    s.commit()
    pm = gw.add_card(cards.customer_id(s, gw, u.id), number)
    cards.sync_cards(s, gw, u.id, datetime(2026, 11, 1, tzinfo=UTC))
    return pm


def plan(s: Session, u: User | None, *, code: str, price: str, fee: str = "0") -> Plan:
    row = Plan(
        code=code,
        name=code.replace("-", " ").title(),
        currency="PLN",
        price_per_kwh=Decimal(price),
        monthly_fee=Decimal(fee),
        active=True,
    )
    s.add(row)
    s.flush()
    if u is not None:
        s.add(
            DriverPlan(
                driver_id=u.id,
                plan_id=row.id,
                status="active",
                started_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )
        s.flush()
    return row


def guest_code(s: Session, p: Place, u: User, *, label: str = "Pokój 204") -> CompanyCode:
    code = CompanyCode(
        operator_id=p.setup.operator.id,
        code_hash=f"hash-{next(_seq)}",
        hint="X7K2",
        label=label,
        kind="temporary",
        price_group_id=p.setup.company.id,
        billing_mode="operator_invoiced",
        timezone=p.site.timezone,
        valid_from=local(2026, 11, 20, 14, 0),
        valid_until=local(2026, 11, 22, 12, 0),
        max_sessions=3,
    )
    code.sites = [p.site]
    s.add(code)
    s.flush()
    m = Membership(
        driver_id=u.id,
        operator_id=p.setup.operator.id,
        price_group_id=p.setup.company.id,
        company_code_id=code.id,
        source="code",
        billing_mode="operator_invoiced",
        starts_at=code.valid_from,
        ends_at=code.valid_until,
    )
    m.sites = [p.site]
    s.add(m)
    s.flush()
    return code


def ended_session(
    s: Session,
    p: Place,
    u: User | None,
    *,
    start: datetime,
    end: datetime,
    meter_start: int = 1_000_000,
    wh: int,
    full: datetime | None = None,
    version: PriceVersion | None = None,
    group: Any = None,
    code: CompanyCode | None = None,
    status: str = "completed",
) -> ChargingSession:
    """A session as the bridge leaves it when the cable is out (status completed)."""
    n = next(_seq)
    membership_id = None
    if code is not None:
        membership_id = s.query(Membership.id).filter_by(company_code_id=code.id).scalar()
    row = ChargingSession(
        charge_point_id=p.cp.id,
        connector_id=1,
        ocpp_version="1.6",
        start_key=f"test-{n}",
        ocpp_transaction_id=100_000 + n,
        id_tag="APP-TEST",
        auth_status="Accepted",
        driver_id=u.id if u is not None else None,
        membership_id=membership_id,
        company_code_id=code.id if code is not None else None,
        price_group_id=(group or (p.setup.company if code else p.setup.public)).id,
        price_version_id=version.id if version is not None else None,
        currency=p.site.currency,
        started_at=start,
        meter_start_wh=meter_start,
        stopped_at=end,
        meter_stop_wh=meter_start + wh,
        energy_wh=wh,
        stop_reason="EVDisconnected",
        car_full_at=full,
        unplugged_at=end,
        status=status,
    )
    s.add(row)
    s.commit()
    return row


def fake_payments(container: Any) -> FakeGateway:
    """The container's card payments on the in-memory fake of our payment port."""
    gw = FakeGateway()
    container.payments = gw
    container.billing = Billing(gw, container.settings.hold_amounts)
    return gw
