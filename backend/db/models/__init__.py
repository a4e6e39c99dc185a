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
from backend.db.models.notifications import (
    Device,
    Notification,
    NotificationDelivery,
    PushOutboxMessage,
)
from backend.db.models.operations import (
    ChargerHealth,
    FirmwareCampaign,
    FirmwareJob,
    HealthAction,
)
from backend.db.models.operators import Operator, OperatorContract, PriceGroup
from backend.db.models.payments import (
    CardSetup,
    Payment,
    PaymentCard,
    PaymentCustomer,
    PlanBilling,
    PlanSubscription,
    Refund,
    StripeEvent,
)
from backend.db.models.periods import CoopPeriod, CoopShare
from backend.db.models.pricing import DriverPlan, MeterReading, Plan, PriceVersion, SiteSupply
from backend.db.models.receipts import Receipt, ReceiptCounter, SessionCharge
from backend.db.models.session_starts import SessionStart
from backend.db.models.sessions import (
    BridgeIncident,
    ChargerBootPolicy,
    ChargingSession,
    DriverAppTag,
    MeterSample,
    SessionOutbox,
)
from backend.db.models.settlements import Payout, Settlement, SettlementItem
from backend.db.models.sites import ChargePoint, Connector, Site

__all__ = [
    "BridgeIncident",
    "CardSetup",
    "ChargePoint",
    "ChargerBootPolicy",
    "ChargerHealth",
    "ChargingSession",
    "CompanyCode",
    "Connector",
    "CoopPeriod",
    "CoopShare",
    "Device",
    "Driver",
    "DriverAppTag",
    "DriverPlan",
    "Favourite",
    "FirmwareCampaign",
    "FirmwareJob",
    "HealthAction",
    "Membership",
    "MeterReading",
    "MeterSample",
    "Notification",
    "NotificationDelivery",
    "Operator",
    "OperatorContract",
    "Payment",
    "PaymentCard",
    "PaymentCustomer",
    "Payout",
    "Plan",
    "PlanBilling",
    "PlanSubscription",
    "PriceGroup",
    "PriceVersion",
    "PushOutboxMessage",
    "Receipt",
    "ReceiptCounter",
    "RefreshToken",
    "Refund",
    "RfidToken",
    "SessionCharge",
    "SessionOutbox",
    "SessionStart",
    "Settlement",
    "SettlementItem",
    "Site",
    "SiteSupply",
    "StripeEvent",
    "ThrottleEvent",
    "User",
    "company_code_sites",
    "membership_sites",
]
