"""Which points a search matches: the viewer's visibility, the circle (bounding box and
haversine cut-off) and the filters, as the candidates' statement (see catalogue_sql).

Split out of catalogue_sql to keep each module small.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
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
)

from backend.db.base import UTCDateTime
from backend.db.models import ChargePoint, Connector, Favourite, Site
from backend.db.models.enums import ConnectorStatus
from backend.services.catalogue_sql_shape import HALF_RADIAN, NOT_AVAILABLE, RADIAN, Shape
from backend.services.visibility import member_site_ids, site_memberships, visible_site


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
