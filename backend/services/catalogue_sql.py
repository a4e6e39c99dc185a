"""The SQL of the catalogue, portable between PostgreSQL and SQLite.

Statements are built once per `Shape` (who asks, which circles; filters are parameters)
with bound parameters, and reused: building a SQLAlchemy statement of this size costs
more than the database needs to answer it.

PostgreSQL plans them on every execution: psycopg prepares a statement after five uses
on a connection, but forgets all of them on every ROLLBACK, which is how the pool ends
the transaction of every other read (/health included). So planning time counts as much
as running time (about half a millisecond each), and the statements are shaped to plan
fast: one-to-one details as sub-selects, not joins.

Distances: inside the bounding box of a circle (shared.geo; an index range on
sites(latitude, longitude)), points are filtered and ordered by the haversine term
a = sin²(Δφ/2) + cos φ1 · cos φ2 · sin²(Δλ/2), which grows with the great-circle distance
d = 2R·asin(√a). So "d <= r" is "a <= sin²(r / 2R)", and no asin or sqrt runs per row;
the distance itself is worked out in Python for the page's rows only.

Plug and power filters first rule out the sites whose connector summary
(catalogue_summary) shows no connector that could match, inside the index scan of
sites; the exact per-connector test then runs for the points of the sites left.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Connection,
    Float,
    Integer,
    Select,
    Subquery,
    bindparam,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from backend.db.base import UTCDateTime
from backend.db.models import ChargePoint, Connector, Favourite, Operator, PriceGroup, Site
from backend.db.models.enums import ConnectorStatus
from backend.services.catalogue_summary import wanted_bits
from backend.services.visibility import (
    Viewer,
    member_site_ids,
    site_memberships,
    visible_site,
)
from shared.geo import EARTH_RADIUS_M, bounding_box

# A charge point in one of these states cannot start a session, whatever its connectors say.
NOT_AVAILABLE = ("offline", "faulted", "unavailable")
COUNT_PREFIX = "all_"  # parameters of the wider circle that is only counted
ORDER_KEYS = ("starred_at", "distance_key")  # how a page is ordered, before the id
DESCENDING = ("starred_at",)  # latest star first
HALF_RADIAN = math.pi / 360.0  # degrees -> half-angle radians
RADIAN = math.pi / 180.0


@dataclass(frozen=True)
class Filters:
    plug_types: tuple[str, ...] = ()
    min_power_w: int | None = None
    available_now: bool = False
    operator_id: int | None = None
    price_group_id: int | None = None  # the group that applies to the caller


@dataclass(frozen=True)
class Shape:
    """Everything the SQL text depends on; the values go in as parameters.

    Filters are parameters too, each condition written as "no filter, or ..." (`:x IS
    NULL OR ...`): PostgreSQL plans a statement with its values and drops the conditions
    they switch off, so one text serves every combination. A handful of shapes instead
    of one per combination: each costs a worker tens of milliseconds to build and
    compile the first time it is asked for, which a rare combination otherwise pays in
    the middle of the traffic. Only the plug list changes the text (an IN list).
    """

    viewer: str = "anonymous"  # Viewer.kind
    distance: bool = False  # measure (and order by) the distance from a point
    lon_ranges: int | None = None  # a radius cut-off: 1 or 2 (across ±180°) or 0 ranges
    plugs: bool = False
    only: str = ""  # "", "id": one point, "favourites": the driver's starred points
    # Also count (up to :cap) the points within a second, wider radius: the one asked
    # for, when the page is looked for in a smaller circle. Its box has this many ranges.
    count_lon_ranges: int | None = None


@dataclass(frozen=True)
class Statements:
    count: Select[Any]  # rows of the query, counted up to :cap
    page: Select[Any]  # points :offset to :offset + :limit, a row per connector


def shape_and_parameters(
    viewer: Viewer,
    now: datetime,
    filters: Filters,
    origin: tuple[float, float] | None = None,
    radius_m: float | None = None,
    only: str = "",
    count_radius_m: float | None = None,
    **extra: Any,
) -> tuple[Shape, dict[str, Any]]:
    """The shape of the statements for this question, and the values to run them with."""
    params: dict[str, Any] = {"now": now, **extra}
    if viewer.driver_id is not None:
        params["driver_id"] = viewer.driver_id
    if viewer.staff_operator_id is not None:
        params["staff_operator_id"] = viewer.staff_operator_id
    lon_ranges = count_lon_ranges = None
    if origin is not None:
        params.update(lat=origin[0], lon=origin[1], cos_lat=math.cos(math.radians(origin[0])))
        if radius_m is not None:
            lon_ranges = _circle(params, "", origin, radius_m)
        if count_radius_m is not None:
            count_lon_ranges = _circle(params, COUNT_PREFIX, origin, count_radius_m)
    params.update(
        operator_id=filters.operator_id,
        price_group_id=filters.price_group_id,
        min_power_w=filters.min_power_w,
        available=filters.available_now,
        on_connector=bool(filters.plug_types or filters.min_power_w is not None)
        or filters.available_now,
        connector_bits=wanted_bits(filters.plug_types, filters.min_power_w),
    )
    if filters.plug_types:
        params["plug_types"] = list(filters.plug_types)
    shape = Shape(
        viewer=viewer.kind,
        distance=origin is not None,
        lon_ranges=lon_ranges,
        plugs=bool(filters.plug_types),
        only=only,
        count_lon_ranges=count_lon_ranges,
    )
    return shape, params


def _circle(params: dict[str, Any], prefix: str, origin: tuple[float, float], r: float) -> int:
    """Parameters of the box and cut-off of a circle; returns its number of lon ranges."""
    box = bounding_box(origin[0], origin[1], r)
    params[prefix + "min_lat"], params[prefix + "max_lat"] = box.min_lat, box.max_lat
    params[prefix + "max_a"] = math.sin(r / (2 * EARTH_RADIUS_M)) ** 2
    for n, (lo, hi) in enumerate(box.lon_ranges):
        params[f"{prefix}lon_lo{n}"], params[f"{prefix}lon_hi{n}"] = lo, hi
    return len(box.lon_ranges)


@lru_cache(maxsize=512)
def statements(shape: Shape) -> Statements:
    query, key = _candidates(shape, shape.lon_ranges)
    keys = _order_keys(shape, key)
    if shape.count_lon_ranges is None:
        return Statements(_count(query), _page(shape, _paged(query, keys), keys))
    return Statements(_count(query), _page_and_count(shape, query, keys))


def _page_and_count(shape: Shape, ring: Select[Any], keys: list[Any]) -> Select[Any]:
    """A page looked for in a smaller circle (``ring``) while the wider one is counted.

    The count keeps the points it walked (up to :cap, in no particular order). Fewer
    than :cap means they are all of the wider circle: the page is taken from them, and
    the ring is not even scanned. Otherwise the page comes from the ring. Both are in
    one statement, each branch run or skipped as a whole on that one test, so a search
    costs one walk of the wider circle either way."""
    wider, wider_key = _candidates(shape, shape.count_lon_ranges, COUNT_PREFIX)
    cap = bindparam("cap", type_=Integer)
    circle = wider.add_columns(wider_key.label(keys[0].name)).limit(cap).cte("circle")
    whole = select(func.count()).select_from(circle).scalar_subquery() < cap
    from_circle = _paged(
        select(circle).where(whole), [circle.c[keys[0].name]], circle.c.cp_id, True, "circle_page"
    )
    from_ring = _paged(ring.where(not_(whole)), keys, name="ring_page")
    both = union_all(select(from_circle), select(from_ring)).subquery("page")
    counted = select(func.count().label("counted")).select_from(circle)
    return _with_count(_page(shape, both, keys), counted)


def _count(query: Select[Any]) -> Select[Any]:
    capped = query.with_only_columns(literal(1)).limit(bindparam("cap", type_=Integer))
    return select(func.count().label("counted")).select_from(capped.subquery())


def _with_count(page: Select[Any], count: Select[Any]) -> Select[Any]:
    """The page's rows, each with ``counted``; a single row of NULLs with it when the page
    is empty. Saves a round trip to the database, which on a busy machine is the price of
    a small query."""
    counted = count.subquery("counted")
    rows = page.subquery("page_rows")
    keys = [c.name for c in page.selected_columns if c.name in ORDER_KEYS]
    order = [rows.c[k].desc() if k in DESCENDING else rows.c[k] for k in keys]
    return (
        select(counted.c.counted, *rows.c)
        .select_from(counted)
        .outerjoin(rows, true())
        .order_by(*order, rows.c.cp_id, rows.c.connector_id)
    )


def _memberships() -> Subquery:
    """The driver's active memberships by site (visibility.site_memberships)."""
    now = bindparam("now", type_=UTCDateTime())
    return site_memberships(bindparam("driver_id", type_=Integer), now)


def _candidates(shape: Shape, lon_ranges: int | None, prefix: str = "") -> tuple[Select[Any], Any]:
    """(cp_id, site_id) of every matching point the viewer may see, within the circle
    whose parameters start with ``prefix``; and the distance key (a constant without a
    point). Membership decides here only what a driver sees, site by site within the
    scan of sites; the page looks it up again for its own points (member, price group)."""
    query = select(ChargePoint.id.label("cp_id"), Site.id.label("site_id"))
    query = query.select_from(ChargePoint).join(Site, Site.id == ChargePoint.site_id)
    group: Any = Site.default_price_group_id
    member_sites = None
    if shape.viewer == "driver":
        now = bindparam("now", type_=UTCDateTime())
        member_sites = member_site_ids(bindparam("driver_id", type_=Integer), now)
        # Only for the price group filter, which is off (and dropped) in most searches.
        membership = _memberships()
        of_site = select(membership.c.price_group_id).where(membership.c.site_id == Site.id)
        group = func.coalesce(of_site.scalar_subquery(), Site.default_price_group_id)
    staff = bindparam("staff_operator_id", type_=Integer) if shape.viewer == "staff" else None
    query = query.where(
        ChargePoint.commissioned.is_(True),
        visible_site(shape.viewer, None, staff, member_sites=member_sites),
    )
    if shape.only == "id":
        query = query.where(ChargePoint.id == bindparam("cp_id", type_=Integer))
    if shape.only == "favourites":
        mine = select(Favourite.charge_point_id).where(
            Favourite.driver_id == bindparam("driver_id")
        )
        query = query.where(ChargePoint.id.in_(mine))
    key = _haversine_term() if shape.distance else literal(0)
    if lon_ranges is not None:
        query = query.where(
            Site.latitude.between(_float(prefix + "min_lat"), _float(prefix + "max_lat")),
            key <= _float(prefix + "max_a"),
        )
        ranges = [
            Site.longitude.between(_float(f"{prefix}lon_lo{n}"), _float(f"{prefix}lon_hi{n}"))
            for n in range(lon_ranges)
        ]
        if ranges:
            query = query.where(or_(*ranges))
    query = query.where(*_filter_conditions(shape, group))
    return query, key


def _float(name: str) -> Any:
    return bindparam(name, type_=Float())


def _haversine_term() -> ColumnElement[float]:
    """a for each site; cos φ1 comes in as a parameter, worked out once."""
    dlat = func.sin((Site.latitude - _float("lat")) * HALF_RADIAN)
    dlon = func.sin((Site.longitude - _float("lon")) * HALF_RADIAN)
    cos_site = func.cos(Site.latitude * RADIAN)
    return dlat * dlat + _float("cos_lat") * cos_site * dlon * dlon  # type: ignore[no-any-return]


def _filter_conditions(shape: Shape, group: Any) -> list[ColumnElement[bool]]:
    """The filters, each off when its parameter is NULL (or false): see `Shape`."""
    operator = bindparam("operator_id", type_=Integer)
    price_group = bindparam("price_group_id", type_=Integer)
    min_power = bindparam("min_power_w", type_=Integer)
    available = bindparam("available", type_=Boolean)
    wanted = bindparam("connector_bits", type_=BigInteger)
    # One connector must satisfy every connector filter at once: a free Type 2 beside a
    # busy CCS does not make the point "a free CCS".
    on_connector: list[ColumnElement[bool]] = [
        Connector.charge_point_id == ChargePoint.id,
        or_(min_power.is_(None), Connector.max_power_w >= min_power),
        or_(not_(available), Connector.status == ConnectorStatus.AVAILABLE.value),
    ]
    if shape.plugs:
        on_connector.append(Connector.plug_type.in_(bindparam("plug_types", expanding=True)))
    summary = Site.connector_bits
    return [
        or_(operator.is_(None), Site.operator_id == operator),
        or_(price_group.is_(None), group == price_group),
        # In the index scan of sites (the column is carried in its index), before any
        # point of the site is looked at.
        or_(wanted.is_(None), summary.is_(None), summary.op("&")(wanted) != 0),
        or_(not_(available), ChargePoint.status.not_in(NOT_AVAILABLE)),
        or_(not_(bindparam("on_connector", type_=Boolean)), exists().where(*on_connector)),
    ]


def _order_keys(shape: Shape, key: Any) -> list[Any]:
    """What a page is ordered by, before the point's id: the distance key (a constant
    without a point), after the time of the star for favourites."""
    keys: list[Any] = [key.label("distance_key")]
    if shape.only == "favourites":
        starred_at = (
            select(Favourite.created_at)
            .where(
                Favourite.driver_id == bindparam("driver_id"),
                Favourite.charge_point_id == ChargePoint.id,
            )
            .scalar_subquery()
        )
        keys.insert(0, starred_at.label("starred_at"))
    return keys


def _paged(
    query: Select[Any],
    keys: list[Any],
    cp_id: Any = ChargePoint.id,
    whole: bool = False,
    name: str = "page",
) -> Subquery:
    """Points :offset to :offset + :limit of ``query`` in the order of ``keys`` then
    ``cp_id``; ``matched`` is how many rows the query has in all, a window count that
    needs no second pass; ``whole`` tells whether they are from the whole circle asked
    for, the one counted (else from a smaller one)."""
    return (
        query.add_columns(
            *(k for k in keys if k.name not in query.selected_columns),
            func.count().over().label("matched"),
            literal(whole).label("whole"),
        )
        .order_by(*(k.desc() if k.name in DESCENDING else k for k in keys), cp_id)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
        .subquery(name)
    )


def _page(shape: Shape, paged: Subquery, keys: list[Any]) -> Select[Any]:
    """The rows of a page (`_paged`): site, operator, membership, price group and
    connectors looked up for the page's points only, one row per connector."""
    # Operator and membership as sub-selects rather than joins: PostgreSQL plans a join
    # of many tables by weighing their orders, which took longer than running the query.
    # (The price group stays a join: its id is an expression of the membership's.)
    group: Any = Site.default_price_group_id
    member: Any = literal(False)
    if shape.viewer == "driver":
        now, driver = bindparam("now", type_=UTCDateTime()), bindparam("driver_id", type_=Integer)
        membership = _memberships()
        mine = select(membership.c.price_group_id).where(membership.c.site_id == paged.c.site_id)
        group = func.coalesce(mine.scalar_subquery(), Site.default_price_group_id)
        member = paged.c.site_id.in_(member_site_ids(driver, now))
    operator = select(Operator.name).where(Operator.id == Site.operator_id).scalar_subquery()
    columns: list[Any] = [
        *(paged.c[k.name] for k in keys),
        paged.c.cp_id,
        member.label("member"),
        paged.c.matched,
        paged.c.whole,
        ChargePoint.status,
        ChargePoint.last_seen_at,
        Site.id.label("site_id"),
        Site.name.label("site_name"),
        Site.street,
        Site.postal_code,
        Site.city,
        Site.country,
        Site.latitude,
        Site.longitude,
        Site.operator_id,
        operator.label("operator_name"),
        Site.visibility,
        Site.timezone,
        Site.currency,
        PriceGroup.id.label("group_id"),
        PriceGroup.name.label("group_name"),
        PriceGroup.kind.label("group_kind"),
        Connector.connector_id,
        Connector.plug_type,
        Connector.max_power_w,
        Connector.status.label("connector_status"),
        Connector.status_at.label("connector_status_at"),
    ]
    if shape.viewer == "driver":
        starred = exists().where(
            Favourite.driver_id == bindparam("driver_id"),
            Favourite.charge_point_id == paged.c.cp_id,
        )
        columns.append(starred.label("favourite"))
    # The joins may shuffle rows: order again by the same keys.
    order = [paged.c[k.name].desc() if k.name in DESCENDING else paged.c[k.name] for k in keys]
    return (
        select(*columns)
        .select_from(paged)
        .join(ChargePoint, ChargePoint.id == paged.c.cp_id)
        .join(Site, Site.id == paged.c.site_id)
        .outerjoin(PriceGroup, PriceGroup.id == group)
        .outerjoin(Connector, Connector.charge_point_id == paged.c.cp_id)
        .order_by(*order, paged.c.cp_id, Connector.connector_id)
    )


@cache
def _sqlite_has_math() -> bool:
    import sqlite3

    try:
        sqlite3.connect(":memory:").execute("SELECT sin(0), cos(0)").close()
    except sqlite3.OperationalError:
        return False
    return True


@contextmanager
def reading(s: Session) -> Iterator[Connection]:
    """The session's connection, to run the catalogue's Core statements on directly (the
    ORM layer of Session.execute adds nothing to them but time).

    Outside a transaction of the caller's, in autocommit: a search is one statement or a
    few, each with its own snapshot under READ COMMITTED anyway, and a transaction
    around them would only add two round trips (BEGIN, then COMMIT or ROLLBACK; and on a
    ROLLBACK psycopg forgets the statements it prepared on the connection). Afterwards
    the connection goes back to the pool in its usual mode."""
    if s.in_transaction() or s.new or s.dirty or s.deleted:
        yield _with_math(s.connection())
        return
    try:
        yield _with_math(s.connection(execution_options={"isolation_level": "AUTOCOMMIT"}))
    finally:
        s.rollback()  # nothing to undo: this only hands the connection back


def _with_math(conn: Connection) -> Connection:
    """SQLite has sin and cos only when built with its math functions; lend it Python's
    otherwise, so the embedded default runs the very same statements as PostgreSQL."""
    if conn.dialect.name == "sqlite" and not _sqlite_has_math():
        raw: Any = conn.connection.driver_connection
        for name, fn in (("sin", math.sin), ("cos", math.cos)):
            raw.create_function(name, 1, _null_safe(fn), deterministic=True)
    return conn


def _null_safe(fn: Any) -> Any:
    return lambda x: None if x is None else fn(x)
