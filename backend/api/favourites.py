"""A driver's favourite charge points: star, unstar, list (same items as the catalogue)."""

from __future__ import annotations

from flask.views import MethodView

from backend.api.catalogue import (
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    CatalogueBlueprint,
    CatalogueItemSchema,
    OriginArgs,
    items_response,
    origin_of,
    viewer,
)
from backend.api.context import allow, container, db
from backend.db.models.enums import Role
from backend.services import favourites

blp = CatalogueBlueprint(
    "favourites",
    __name__,
    url_prefix="/me/favourites",
    description="A driver's starred charge points",
)


@blp.route("")
class Favourites(MethodView):
    @blp.arguments(OriginArgs(), location="query")
    @blp.response(200, CatalogueItemSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)
    @allow(Role.DRIVER)
    def get(self, args, pagination_parameters):  # type: ignore[no-untyped-def]
        """The driver's starred points, latest star first.

        Points the driver can no longer see (e.g. their membership ended) are left out.
        Give lat and lon to get distance_m.
        """
        result = favourites.favourites(
            db(),
            viewer(),
            container().clock(),
            origin=origin_of(args),
            page=pagination_parameters.page,
            page_size=pagination_parameters.page_size,
        )
        pagination_parameters.item_count = result.total
        return items_response(result.items)


@blp.route("/<int:charge_point_id>")
class Favourite(MethodView):
    @blp.response(204)
    @allow(Role.DRIVER)
    def put(self, charge_point_id):  # type: ignore[no-untyped-def]
        """Star a charge point (again is fine). 404 if the driver cannot see it."""
        favourites.star(db(), viewer(), container().clock(), charge_point_id)

    @blp.response(204)
    @allow(Role.DRIVER)
    def delete(self, charge_point_id):  # type: ignore[no-untyped-def]
        """Remove the star from a charge point (if it has none, nothing changes)."""
        favourites.unstar(db(), viewer(), charge_point_id)
