"""The questions the catalogue's statements are built for: the filters, the `Shape` that
decides the SQL text, and the parameter values that go with it (see catalogue_sql).

Split out of catalogue_sql (which re-exports all of it) to keep each module small.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select

from backend.services.catalogue_summary import wanted_bits
from backend.services.visibility import Viewer
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
