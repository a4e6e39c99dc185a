"""Closed vocabularies stored as strings (portable across SQLite and PostgreSQL)."""

from enum import StrEnum


class Role(StrEnum):
    DRIVER = "driver"
    OPERATOR_STAFF = "operator_staff"
    PLATFORM_ADMIN = "platform_admin"


class BusinessCase(StrEnum):
    """domain.md §2: the four contract types."""

    P1 = "P1"  # private residential block
    P2 = "P2"  # private hotel, temporary guest codes, operator invoices guests
    PUB = "PUB"  # public, platform-priced by the driver's plan
    SEMI = "SEMI"  # semi-public, company and public prices


class Visibility(StrEnum):
    PRIVATE = "private"
    PUBLIC = "public"
    SEMI_PUBLIC = "semi_public"


class PriceGroupKind(StrEnum):
    COMPANY = "company"
    PUBLIC = "public"


class CodeKind(StrEnum):
    PERMANENT = "permanent"
    TEMPORARY = "temporary"


class BillingMode(StrEnum):
    PER_SESSION = "per_session"
    MONTHLY = "monthly"
    OPERATOR_INVOICED = "operator_invoiced"


class MembershipSource(StrEnum):
    CODE = "code"
    RFID = "rfid"
    MANUAL = "manual"


class Language(StrEnum):
    PL = "pl"
    EN = "en"
    NB = "nb"


class PlugType(StrEnum):
    TYPE2 = "type2"
    CCS2 = "ccs2"
    CHADEMO = "chademo"
    TYPE1 = "type1"
    SCHUKO = "schuko"


class ConnectorStatus(StrEnum):
    """OCPP 1.6 ChargePointStatus; 2.0.1 statuses map onto these."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"
    UNKNOWN = "Unknown"


class ChargePointStatus(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    FAULTED = "faulted"
    UNAVAILABLE = "unavailable"
    UNKNOWN = "unknown"
