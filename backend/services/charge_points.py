"""Charge points and connectors, operator side: register, show, change, rotate password.

A charger connects to the OCPP bridge at ``.../<ocpp_identity>`` and, under OCPP
security profiles 1 and 2, authenticates with HTTP Basic auth. The platform draws that
password, keeps only its argon2 hash, and shows the password once (at registration or
rotation) for the installer to enter into the charger.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.db.models import ChargePoint, Connector, Site
from backend.db.models.enums import PlugType
from backend.errors import Conflict, InvalidInput, NotFound
from backend.security.passwords import hash_password, verify_password
from backend.services import catalogue_summary
from backend.services.operators import get_operator, invalid
from backend.services.visibility import valid_id

# What may stand in a URL path segment without escaping (RFC 3986 unreserved minus '~'),
# which is where OCPP-J puts the identity; 48 is the column and OCPP 2.0.1's limit.
IDENTITY = re.compile(r"^[A-Za-z0-9._-]{1,48}$")
# Letters and digits only: charger web UIs and OCPP 1.6 AuthorizationKey settings differ
# in which symbols they take. 32 characters of 62 give ~190 bits; OCPP allows 16-40.
PASSWORD_ALPHABET = string.ascii_letters + string.digits
PASSWORD_LENGTH = 32
MAX_CONNECTORS = 32
MAX_POWER_KW = Decimal(4000)  # megawatt charging for trucks stays below this
TEXT_FIELDS = {"vendor": 50, "model": 50, "serial_number": 50}


@dataclass(frozen=True)
class ConnectorSpec:
    connector_id: int
    plug_type: str
    max_power_kw: Decimal


@dataclass(frozen=True)
class WithPassword:
    charge_point: ChargePoint
    password: str = field(repr=False)  # plain: shown once, never stored


def new_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def check_identity(identity: str) -> str:
    if not IDENTITY.match(identity) or set(identity) == {"."}:
        # "." and ".." would be resolved away by any URL handling between charger and us.
        raise invalid(
            "ocpp_identity",
            "1-48 letters, digits, '-', '_' or '.' (it is part of the charger's URL).",
        )
    return identity


def _identity_free(s: Session, identity: str, except_id: int | None = None) -> None:
    # Compared without case: WP-A and wp-a side by side would be one typo from a
    # charger connecting as the wrong point.
    query = select(ChargePoint.id).where(func.lower(ChargePoint.ocpp_identity) == identity.lower())
    if except_id is not None:
        query = query.where(ChargePoint.id != except_id)
    if s.scalar(query) is not None:
        raise _identity_taken()


def _identity_taken() -> Conflict:
    return Conflict(
        "A charge point with this OCPP identity is already registered.",
        errors={"ocpp_identity": ["Already in use (identities are unique platform-wide)."]},
    )


def watts(kw: Decimal, where: str) -> int:
    """Power as integer watts (the catalogue filters on it in SQL); exact or refused."""
    if not kw.is_finite() or not 0 < kw <= MAX_POWER_KW:
        raise invalid(where, f"Greater than 0 and at most {MAX_POWER_KW} kW.")
    w = kw * 1000
    if w != w.to_integral_value():
        raise invalid(where, "At most 3 decimal places (whole watts).")
    return int(w)


def _checked(specs: Sequence[ConnectorSpec]) -> list[tuple[ConnectorSpec, int]]:
    if not 1 <= len(specs) <= MAX_CONNECTORS:
        raise invalid("connectors", f"Between 1 and {MAX_CONNECTORS} connectors.")
    seen: set[int] = set()
    errors: dict[str, list[str]] = {}
    result = []
    for i, spec in enumerate(specs):
        where = f"connectors.{i}"
        if not 1 <= spec.connector_id <= MAX_CONNECTORS:
            errors[f"{where}.connector_id"] = [f"From 1 to {MAX_CONNECTORS} (OCPP connectorId)."]
        elif spec.connector_id in seen:
            errors[f"{where}.connector_id"] = [f"Connector {spec.connector_id} appears twice."]
        seen.add(spec.connector_id)
        if spec.plug_type not in {p.value for p in PlugType}:
            errors[f"{where}.plug_type"] = [f"One of {', '.join(p.value for p in PlugType)}."]
        try:
            result.append((spec, watts(spec.max_power_kw, f"{where}.max_power_kw")))
        except InvalidInput as exc:
            errors.update(exc.errors)
    if errors:
        raise InvalidInput("Some connectors are not valid.", errors=errors)
    return result


def _texts(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, limit in TEXT_FIELDS.items():
        if name in data:
            value = str(data[name]).strip()
            if len(value) > limit:
                raise invalid(name, f"At most {limit} characters.")
            out[name] = value
    return out


def create_charge_point(
    s: Session,
    site: Site,
    data: Mapping[str, Any],
    connectors: Sequence[ConnectorSpec],
    now: datetime,
) -> WithPassword:
    """Register a charger at a site. A new charger stays out of the app until it is
    marked commissioned (installed and tested)."""
    identity = check_identity(str(data.get("ocpp_identity", "")))
    checked = _checked(connectors)
    _identity_free(s, identity)
    password = new_password()
    cp = ChargePoint(
        site_id=site.id,
        ocpp_identity=identity,
        password_hash=hash_password(password),
        commissioned=bool(data.get("commissioned", False)),
        created_at=now,
        **_texts(data),
    )
    cp.connectors = [
        Connector(connector_id=c.connector_id, plug_type=c.plug_type, max_power_w=w)
        for c, w in checked
    ]
    s.add(cp)
    try:
        s.flush()
        catalogue_summary.refresh_site(s, site.id)
        s.commit()
    except IntegrityError as exc:  # registered concurrently under the same identity
        s.rollback()
        raise _identity_taken() from exc
    return WithPassword(cp, password)


def list_charge_points(
    s: Session, site: Site, *, offset: int = 0, limit: int = 20
) -> tuple[list[ChargePoint], int]:
    where = ChargePoint.site_id == site.id
    total = s.scalar(select(func.count()).select_from(ChargePoint).where(where)) or 0
    rows = s.scalars(
        select(ChargePoint)
        .where(where)
        .options(selectinload(ChargePoint.connectors))
        .order_by(ChargePoint.ocpp_identity)
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), total


def get_charge_point(
    s: Session, operator_id: int, charge_point_id: int, *, for_update: bool = False
) -> ChargePoint:
    """One of the operator's charge points; anybody else's does not exist (404)."""
    get_operator(s, operator_id)
    if not valid_id(charge_point_id):
        raise NotFound("No such charge point.")
    query = (
        select(ChargePoint)
        .join(Site, Site.id == ChargePoint.site_id)
        .where(ChargePoint.id == charge_point_id, Site.operator_id == operator_id)
        .options(selectinload(ChargePoint.connectors))
    )
    cp = s.scalar(query.with_for_update(of=ChargePoint) if for_update else query)
    if cp is None:
        raise NotFound("No such charge point.")
    return cp


def update_charge_point(
    s: Session,
    operator_id: int,
    charge_point_id: int,
    changes: Mapping[str, Any],
    connectors: Sequence[ConnectorSpec] | None = None,
) -> ChargePoint:
    """Change a charger's details. ``connectors`` adds connectors or changes the plug
    and power of existing ones (matched by connector_id); connectors not listed stay,
    since their status and history belong to them."""
    cp = get_charge_point(s, operator_id, charge_point_id, for_update=True)
    if "ocpp_identity" in changes:
        identity = check_identity(str(changes["ocpp_identity"]))
        _identity_free(s, identity, except_id=cp.id)
        cp.ocpp_identity = identity
    for key, value in _texts(changes).items():
        setattr(cp, key, value)
    if "commissioned" in changes:
        cp.commissioned = bool(changes["commissioned"])
    if connectors is not None:
        existing = {c.connector_id: c for c in cp.connectors}
        for spec, w in _checked(connectors):
            row = existing.get(spec.connector_id)
            if row is None:
                cp.connectors.append(
                    Connector(
                        connector_id=spec.connector_id, plug_type=spec.plug_type, max_power_w=w
                    )
                )
            else:
                row.plug_type, row.max_power_w = spec.plug_type, w
    try:
        if connectors is not None:
            s.flush()
            catalogue_summary.refresh_site(s, cp.site_id)
        s.commit()
    except IntegrityError as exc:
        s.rollback()
        raise _identity_taken() from exc
    return cp


def rotate_password(s: Session, operator_id: int, charge_point_id: int) -> WithPassword:
    """A new OCPP password; the old one stops working at the charger's next connection."""
    cp = get_charge_point(s, operator_id, charge_point_id, for_update=True)
    password = new_password()
    cp.password_hash = hash_password(password)
    s.commit()
    return WithPassword(cp, password)


def authenticate(s: Session, identity: str, password: str) -> ChargePoint | None:
    """The bridge's check of a connecting charger's Basic-auth credentials."""
    cp = s.scalar(select(ChargePoint).where(ChargePoint.ocpp_identity == identity))
    ok = verify_password(cp.password_hash if cp else None, password)
    return cp if ok and cp is not None else None
