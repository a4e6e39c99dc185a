"""Every table, imported in one place so Alembic and the app see the same metadata."""

from backend.db.models.access import (
    CompanyCode,
    Favourite,
    Membership,
    RfidToken,
    ThrottleEvent,
    company_code_sites,
    membership_sites,
)
from backend.db.models.accounts import Driver, RefreshToken, User
from backend.db.models.operators import Operator, OperatorContract, PriceGroup
from backend.db.models.pricing import DriverPlan, MeterReading, Plan, PriceVersion, SiteSupply
from backend.db.models.sites import ChargePoint, Connector, Site

__all__ = [
    "ChargePoint",
    "CompanyCode",
    "Connector",
    "Driver",
    "DriverPlan",
    "Favourite",
    "Membership",
    "MeterReading",
    "Operator",
    "OperatorContract",
    "Plan",
    "PriceGroup",
    "PriceVersion",
    "RefreshToken",
    "RfidToken",
    "Site",
    "SiteSupply",
    "ThrottleEvent",
    "User",
    "company_code_sites",
    "membership_sites",
]
