"""The driver catalogue: charge points near a place, one point's details (issue #2).

Who sees what, and at which price group, comes from `visibility` and is joined into
the queries (catalogue_sql), so a page costs one statement whatever its length: its
points with their sites, price groups and connectors. A search adds one bounded count.

Search is built for 100,000 points and more (see bench/catalogue_search.py). What makes
a search slow is the number of points in the circle, not the size of the page, so:
- the total is counted exactly up to MAX_RESULTS and no further (Elasticsearch's
  `track_total_hits` and GitHub's search do the same): past it, `total_exact` is false
  and pages end at MAX_RESULTS. A 100 km circle around Warsaw holds some 15,000 points;
  nobody pages through them, and counting them costs more than everything else;
- a search up to the default radius sorts its whole circle, counting it in the same
  pass. A wider one counts its circle up to MAX_RESULTS + 1 points, keeping them: when
  there are fewer, they are the whole circle and the page is sorted out of them, in
  the same statement. Otherwise the page is looked for in a town-sized circle (same
  statement), then if that held too few, in one sized from the density seen (at least
  twice as wide): every point outside a circle is farther than every point inside it,
  so the page is exact, while only the neighbourhood is sorted. Each statement costs
  about a millisecond whatever it does (PostgreSQL plans it anew: see catalogue_sql),
  so a circle on the wide side beats one more statement;
- plug and power filters skip the sites whose connectors cannot match
  (catalogue_summary) before probing any connector;
- reads run in autocommit (catalogue_sql.reading): no BEGIN and COMMIT round trips.

docs/benchmarks.md has the figures, and what was tried.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from backend.errors import InvalidInput, NotFound
from backend.services import catalogue_sql as sql
from backend.services.catalogue_sql import Filters
from backend.services.visibility import Viewer, valid_id
from shared.geo import InvalidCoordinates, haversine_m, validate_point

__all__ = [
    "ChargePointView",
    "Filters",
    "Origin",
    "ResultPage",
    "details",
    "favourites",
    "search",
]

DEFAULT_RADIUS_M = 5_000
MAX_RADIUS_M = 100_000
MAX_RESULTS = 1_000  # counted exactly up to here, and reachable through pages
# Searches up to the default radius sort the whole circle at once: one statement, no
# separate count. Wider ones first look for the page in a town-sized circle.
SORT_WHOLE_UP_TO_M = DEFAULT_RADIUS_M
FIRST_RING_M = 3_500
AIM = 2  # the next circle should hold this many times the points the page needs
NOT_FOUND = "No such charge point."


@dataclass(frozen=True)
class Origin:
    lat: float
    lon: float


@dataclass(frozen=True)
class ConnectorView:
    connector_id: int
    plug_type: str
    max_power_kw: Decimal
    status: str
    status_at: datetime | None


@dataclass(frozen=True)
class PriceGroupView:
    id: int
    name: str
    kind: str


@dataclass(frozen=True)
class AddressView:
    street: str
    postal_code: str
    city: str
    country: str


@dataclass(frozen=True)
class OperatorView:
    id: int
    name: str


@dataclass(frozen=True)
class SiteView:
    id: int
    name: str
    address: AddressView
    latitude: float
    longitude: float
    operator: OperatorView
    visibility: str
    timezone: str
    currency: str


@dataclass(frozen=True)
class ChargePointView:
    id: int
    status: str
    last_seen_at: datetime | None
    distance_m: int | None
    site: SiteView
    price_group: PriceGroupView | None
    member: bool
    favourite: bool | None  # None when the caller is not a driver
    connectors: list[ConnectorView] = field(default_factory=list)


@dataclass(frozen=True)
class ResultPage:
    items: list[ChargePointView]
    total: int
    total_exact: bool = True  # False: there are more than `total` (= MAX_RESULTS)


def validate_origin(lat: float, lon: float) -> Origin:
    try:
        validate_point(lat, lon)
    except InvalidCoordinates as exc:
        raise InvalidInput(exc.message, errors={exc.field: [exc.message]}) from exc
    return Origin(lat, lon)


def search(
    s: Session,
    viewer: Viewer,
    now: datetime,
    origin: Origin,
    *,
    radius_m: float = DEFAULT_RADIUS_M,
    filters: Filters = Filters(),
    page: int = 1,
    page_size: int = 20,
) -> ResultPage:
    """Visible charge points within ``radius_m`` of ``origin``, nearest first."""
    validate_origin(origin.lat, origin.lon)
    if not 0 < radius_m <= MAX_RADIUS_M:
        message = f"The radius must be more than 0 and at most {MAX_RADIUS_M // 1000} km."
        raise InvalidInput(message, errors={"radius_km": [message]})
    if page < 1 or page_size < 1:
        raise InvalidInput("Pages are numbered from 1 and hold at least one item.")
    offset = (page - 1) * page_size
    with sql.reading(s) as db:
        rows, counted = _nearest(db, viewer, now, origin, radius_m, filters, offset, page_size)
    return _page(rows, origin, viewer, min(counted, MAX_RESULTS), counted <= MAX_RESULTS)


def _nearest(
    db: Connection,
    viewer: Viewer,
    now: datetime,
    origin: Origin,
    radius_m: float,
    filters: Filters,
    offset: int,
    page_size: int,
) -> tuple[list[Any], int]:
    """The page's rows, and the number of points in the circle up to MAX_RESULTS + 1."""
    needed, where = offset + page_size, (origin.lat, origin.lon)
    # First look in the first ring, counting the whole circle in the same statement.
    ring = radius_m if radius_m <= SORT_WHOLE_UP_TO_M else FIRST_RING_M
    count_radius = radius_m if ring < radius_m else None
    shape, params = sql.shape_and_parameters(
        viewer, now, filters, where, ring, count_radius_m=count_radius
    )
    params.update(offset=offset, limit=page_size, cap=MAX_RESULTS + 1)
    statements = sql.statements(shape)
    rows = db.execute(statements.page, params).all()
    if count_radius is not None:
        counted = rows[0].counted
        rows = [r for r in rows if r.cp_id is not None]
        if rows and rows[0].whole:  # from the whole circle, all of it counted
            ring = radius_m
    elif rows:
        counted = rows[0].matched
    else:  # an empty page of a small circle: how many come before it?
        counted = db.execute(statements.count, params).scalar_one()
    if offset >= min(counted, MAX_RESULTS):
        return [], counted
    while not (ring >= radius_m or (rows and rows[0].matched >= needed)):
        ring = min(radius_m, max(2 * ring, _next_ring(ring, rows, needed, counted, radius_m)))
        shape, params = sql.shape_and_parameters(viewer, now, filters, where, ring)
        params.update(offset=offset, limit=page_size)
        rows = db.execute(sql.statements(shape).page, params).all()
    # Every point outside the last circle is farther than every point inside it.
    return list(rows), counted


def _next_ring(ring: float, rows: Sequence[Any], needed: int, counted: int, radius: float) -> float:
    """How far to look next for the points a page needs. A circle too small costs a
    statement more (a millisecond or so to plan, send and run, whatever its size); one
    too big sorts more points (a few hundred cost a tenth of that), so aim wide."""
    if counted <= MAX_RESULTS:
        return radius  # at most a thousand points: sort them all at once
    # The density around the point, from the circle just searched, for a few pages; or,
    # with nothing nearby, spread evenly over the whole circle (the count is capped:
    # there are more, so they lie closer still).
    if rows:
        return ring * math.sqrt(AIM * needed / rows[0].matched)
    return radius * math.sqrt(AIM * needed / counted)


def details(
    s: Session, viewer: Viewer, now: datetime, charge_point_id: int, origin: Origin | None = None
) -> ChargePointView:
    """One visible charge point; an invisible one is NotFound like a missing one."""
    if not valid_id(charge_point_id):
        raise NotFound(NOT_FOUND)
    result = _listing(s, viewer, now, "id", origin, 1, 1, cp_id=charge_point_id)
    if not result.items:
        raise NotFound(NOT_FOUND)
    return result.items[0]


def favourites(
    s: Session,
    viewer: Viewer,
    now: datetime,
    *,
    origin: Origin | None = None,
    page: int = 1,
    page_size: int = 20,
) -> ResultPage:
    """The driver's starred points that are visible to them, latest star first; the
    same items as search. A star whose point became invisible (a membership ended) is
    left out, not deleted: it shows again if access comes back."""
    if viewer.driver_id is None:
        raise InvalidInput("Only drivers keep favourites.")
    return _listing(s, viewer, now, "favourites", origin, page, page_size)


def _listing(
    s: Session,
    viewer: Viewer,
    now: datetime,
    only: str,
    origin: Origin | None,
    page: int,
    page_size: int,
    **extra: Any,
) -> ResultPage:
    """Short lists (one point, a driver's stars), counted in full."""
    where = (origin.lat, origin.lon) if origin else None
    shape, params = sql.shape_and_parameters(viewer, now, Filters(), where, None, only, **extra)
    statements = sql.statements(shape)
    offset = (page - 1) * page_size
    with sql.reading(s) as db:
        rows = db.execute(statements.page, {**params, "offset": offset, "limit": page_size}).all()
        total = rows[0].matched if rows else 0
        if not rows and offset:  # past the last page: the window count came with no row
            total = db.execute(statements.count, {**params, "cap": 2**31 - 1}).scalar_one()
    return _page(rows, origin, viewer, total, True)


def _page(
    rows: Sequence[Any], origin: Origin | None, viewer: Viewer, total: int, exact: bool
) -> ResultPage:
    """Items from the page's rows, one row per connector, in the page's order."""
    items: list[ChargePointView] = []
    for row in rows:
        if not items or items[-1].id != row.cp_id:
            items.append(_item(row, origin, viewer))
        if row.connector_id is not None:
            items[-1].connectors.append(
                ConnectorView(
                    row.connector_id,
                    row.plug_type,
                    _kilowatts(row.max_power_w),
                    row.connector_status,
                    row.connector_status_at,
                )
            )
    return ResultPage(items, total, exact)


@lru_cache(maxsize=256)  # a handful of ratings recur: 7.4, 11, 22, 50, 150 kW...
def _kilowatts(watts: int) -> Decimal:
    """7400 W -> 7.4, 22000 W -> 22 (not 2.2E+1)."""
    kw = Decimal(watts).scaleb(-3).normalize()
    return kw.quantize(Decimal(1)) if kw == kw.to_integral_value() else kw


def _item(r: Any, origin: Origin | None, viewer: Viewer) -> ChargePointView:
    site = SiteView(
        r.site_id,
        r.site_name,
        AddressView(r.street, r.postal_code, r.city, r.country),
        r.latitude,
        r.longitude,
        OperatorView(r.operator_id, r.operator_name),
        r.visibility,
        r.timezone,
        r.currency,
    )
    distance = None
    if origin is not None:
        distance = round(haversine_m(origin.lat, origin.lon, r.latitude, r.longitude))
    group = PriceGroupView(r.group_id, r.group_name, r.group_kind) if r.group_id else None
    favourite = bool(r.favourite) if viewer.driver_id is not None else None
    return ChargePointView(
        r.cp_id,
        r.status,
        r.last_seen_at,
        distance,
        site,
        group,
        bool(r.member),
        favourite,
    )
