"""A driver's starred charge points (issue #2, catalogue).

A star is only ever shown while the point stays visible to the driver: when a membership
ends, the private points it opened drop out of the list (the row is kept, so the star
comes back if the driver is given access again).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import ChargePoint, Favourite
from backend.errors import NotFound
from backend.services import catalogue
from backend.services.visibility import Viewer, site_access, valid_id


def _require_driver(viewer: Viewer) -> int:
    if viewer.driver_id is None:  # the API lets only drivers in; this guards other callers
        raise NotFound("Only drivers keep favourites.")
    return viewer.driver_id


def star(s: Session, viewer: Viewer, now: datetime, charge_point_id: int) -> None:
    """Star a point the driver can see; starring it again changes nothing.

    An invisible point is NotFound, exactly like a missing one: a star must not tell a
    driver that a private point exists.
    """
    driver_id = _require_driver(viewer)
    point = None
    if valid_id(charge_point_id):
        point = s.execute(
            select(ChargePoint.site_id).where(
                ChargePoint.id == charge_point_id, ChargePoint.commissioned.is_(True)
            )
        ).first()
    if point is None or site_access(s, viewer, point.site_id, now) is None:
        raise NotFound(catalogue.NOT_FOUND)
    if s.get(Favourite, (driver_id, charge_point_id)) is not None:
        return
    s.add(Favourite(driver_id=driver_id, charge_point_id=charge_point_id, created_at=now))
    try:
        s.commit()
    except IntegrityError:
        # The same driver starred it from another device at the same moment: already done.
        s.rollback()


def unstar(s: Session, viewer: Viewer, charge_point_id: int) -> None:
    """Remove a star; removing one that is not there changes nothing."""
    driver_id = _require_driver(viewer)
    if not valid_id(charge_point_id):
        return
    s.execute(
        delete(Favourite).where(
            Favourite.driver_id == driver_id, Favourite.charge_point_id == charge_point_id
        )
    )
    s.commit()


def favourites(
    s: Session,
    viewer: Viewer,
    now: datetime,
    *,
    origin: catalogue.Origin | None = None,
    page: int = 1,
    page_size: int = 20,
) -> catalogue.ResultPage:
    """The driver's starred points that are still visible to them, latest star first."""
    _require_driver(viewer)
    return catalogue.favourites(s, viewer, now, origin=origin, page=page, page_size=page_size)
