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

from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, Select, bindparam, func, literal, not_, select, true, union_all

# The builder is split by concern over catalogue_sql_*; callers import all of it from here.
from backend.services.catalogue_sql_conn import reading as reading
from backend.services.catalogue_sql_match import _candidates
from backend.services.catalogue_sql_page import _order_keys, _page, _paged
from backend.services.catalogue_sql_shape import COUNT_PREFIX as COUNT_PREFIX
from backend.services.catalogue_sql_shape import DESCENDING as DESCENDING
from backend.services.catalogue_sql_shape import HALF_RADIAN as HALF_RADIAN
from backend.services.catalogue_sql_shape import NOT_AVAILABLE as NOT_AVAILABLE
from backend.services.catalogue_sql_shape import ORDER_KEYS as ORDER_KEYS
from backend.services.catalogue_sql_shape import RADIAN as RADIAN
from backend.services.catalogue_sql_shape import Filters as Filters
from backend.services.catalogue_sql_shape import Shape as Shape
from backend.services.catalogue_sql_shape import Statements as Statements
from backend.services.catalogue_sql_shape import shape_and_parameters as shape_and_parameters


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
