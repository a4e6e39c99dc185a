"""An operator's sites: where they are, who may see them, what their country implies.

domain.md §5: a site's currency and VAT rate follow from its country (shared.countries)
and are never taken from a client. The country therefore cannot change later: prices,
receipts and settlements already made in that currency would stop adding up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.models import PriceGroup, Site
from backend.db.models.enums import PriceGroupKind, Visibility
from backend.errors import NotFound
from backend.services.operators import get_operator, invalid, require_country
from backend.services.visibility import valid_id
from shared import countries

TEXT_FIELDS = ("name", "street", "postal_code", "city")
EDITABLE = (*TEXT_FIELDS, "latitude", "longitude", "timezone", "visibility")
OPEN_TO_EVERYONE = (Visibility.PUBLIC.value, Visibility.SEMI_PUBLIC.value)


def _coordinate(value: float, field_name: str, limit: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(field_name, "A number in decimal degrees.")
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise invalid(field_name, f"Between -{limit:g} and {limit:g} degrees.")
    return float(value)


def _time_zone(name: str) -> str:
    try:
        return countries.time_zone(name)
    except countries.UnknownTimeZone as exc:
        raise invalid("timezone", str(exc)) from exc


def _visibility(value: str) -> str:
    try:
        return Visibility(value).value
    except ValueError as exc:
        raise invalid("visibility", "One of private, public, semi_public.") from exc


def _default_group(
    s: Session, operator_id: int, group_id: int | None, visibility: str
) -> int | None:
    """The group drivers without a membership are priced in.

    At a public or semi-public site that must be a public group: the company group is
    for members, whom a membership already puts in it. At a private site only members
    charge, so any group of the operator will do."""
    if group_id is None:
        return None
    group = s.get(PriceGroup, group_id) if valid_id(group_id) else None
    if group is None or group.operator_id != operator_id:
        raise invalid("default_price_group_id", "Not a price group of this operator.")
    if visibility in OPEN_TO_EVERYONE and group.kind != PriceGroupKind.PUBLIC.value:
        raise invalid(
            "default_price_group_id",
            "Drivers without a membership pay the public price here: choose a group of "
            "kind public.",
        )
    return group.id


def _first_public_group(s: Session, operator_id: int) -> int | None:
    return s.scalar(
        select(PriceGroup.id)
        .where(
            PriceGroup.operator_id == operator_id,
            PriceGroup.kind == PriceGroupKind.PUBLIC.value,
        )
        .order_by(PriceGroup.id)
        .limit(1)
    )


def _texts(data: Mapping[str, Any]) -> dict[str, str]:
    texts = {k: str(data[k]).strip() for k in TEXT_FIELDS if k in data}
    if "name" in texts and not texts["name"]:
        raise invalid("name", "A site needs a name.")
    return texts


def create_site(s: Session, operator_id: int, data: Mapping[str, Any], now: datetime) -> Site:
    """A new site; ``timezone`` defaults to the country's, ``default_price_group_id`` to
    the operator's first public group."""
    get_operator(s, operator_id)
    for required in ("name", "country", "latitude", "longitude", "visibility"):
        if data.get(required) is None:
            raise invalid(required, "Required.")
    rules = require_country(data["country"])
    visibility = _visibility(data["visibility"])
    if "default_price_group_id" in data:
        group_id = _default_group(s, operator_id, data["default_price_group_id"], visibility)
    else:
        group_id = _first_public_group(s, operator_id)
    site = Site(
        operator_id=operator_id,
        **_texts(data),
        country=rules.code,
        currency=rules.currency,
        vat_rate=rules.vat_rate,
        latitude=_coordinate(data["latitude"], "latitude", 90),
        longitude=_coordinate(data["longitude"], "longitude", 180),
        timezone=_time_zone(data.get("timezone") or rules.timezone),
        visibility=visibility,
        default_price_group_id=group_id,
        created_at=now,
    )
    s.add(site)
    s.commit()
    return site


def list_sites(
    s: Session, operator_id: int, *, offset: int = 0, limit: int = 20
) -> tuple[list[Site], int]:
    get_operator(s, operator_id)
    where = Site.operator_id == operator_id
    total = s.scalar(select(func.count()).select_from(Site).where(where)) or 0
    rows = s.scalars(
        select(Site).where(where).order_by(Site.name, Site.id).offset(offset).limit(limit)
    ).all()
    return list(rows), total


def get_site(s: Session, operator_id: int, site_id: int, *, for_update: bool = False) -> Site:
    """One of the operator's sites; another operator's site does not exist (404)."""
    get_operator(s, operator_id)
    if not valid_id(site_id):
        raise NotFound("No such site.")
    query = select(Site).where(Site.id == site_id, Site.operator_id == operator_id)
    site = s.scalar(query.with_for_update() if for_update else query)
    if site is None:
        raise NotFound("No such site.")
    return site


def update_site(s: Session, site: Site, changes: Mapping[str, Any]) -> Site:
    """Apply a partial change to a site the caller holds (locked with ``for_update``)."""
    if "country" in changes and changes["country"] != site.country:
        raise invalid(
            "country",
            "A site's country fixes its currency and VAT rate and cannot change; "
            "create a new site instead.",
        )
    values: dict[str, Any] = dict(_texts(changes))
    if "latitude" in changes:
        values["latitude"] = _coordinate(changes["latitude"], "latitude", 90)
    if "longitude" in changes:
        values["longitude"] = _coordinate(changes["longitude"], "longitude", 180)
    if "timezone" in changes:
        values["timezone"] = _time_zone(changes["timezone"])
    if "visibility" in changes:
        values["visibility"] = _visibility(changes["visibility"])
    visibility = values.get("visibility", site.visibility)
    group_id = changes.get("default_price_group_id", site.default_price_group_id)
    if "default_price_group_id" in changes or "visibility" in changes:
        # Re-checked on a visibility change too: opening a private site to the public
        # must not leave everyone on the company price.
        values["default_price_group_id"] = _default_group(s, site.operator_id, group_id, visibility)
    for key, value in values.items():
        setattr(site, key, value)
    s.commit()
    return site
