"""A page of a search: the matching points put in order and cut to :offset and :limit,
then their details looked up, one row per connector (see catalogue_sql).

Split out of catalogue_sql to keep each module small.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, Select, Subquery, bindparam, exists, func, literal, select

from backend.db.base import UTCDateTime
from backend.db.models import ChargePoint, Connector, Favourite, Operator, PriceGroup, Site
from backend.services.catalogue_sql_match import _memberships
from backend.services.catalogue_sql_shape import DESCENDING, Shape
from backend.services.visibility import member_site_ids


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
