"""The catalogue: find charge points near a place, see one point's connectors and status.

Lists are paginated the flask-smorest way: `page` and `page_size` (at most 100) in the
query, the items as the body, and `X-Pagination` ({total, total_pages, page, ...}) as a
header. A search counts its total exactly up to 1,000 points; past that X-Pagination
says `"total_exact": false`, total is 1,000 and pages end there (narrow the search).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any

from flask import Response, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from backend.api.context import container, db, optional_principal
from backend.db.models.enums import PlugType
from backend.services import catalogue
from backend.services.visibility import MAX_ID, Viewer


class CatalogueBlueprint(Blueprint):
    """X-Pagination with flask-smorest's keys, plus `total_exact`; built as a plain dict,
    since flask-smorest builds a marshmallow schema for it on every request."""

    def _set_pagination_metadata(self, page_params, result, headers):  # type: ignore[no-untyped-def]
        page, size, total = page_params.page, page_params.page_size, page_params.item_count
        meta: dict[str, Any] = {"total": total, "total_pages": (total + size - 1) // size}
        if total:
            last = meta["total_pages"]
            meta.update(first_page=1, last_page=last)
            if page <= last:
                meta["page"] = page
                if page > 1:
                    meta["previous_page"] = page - 1
                if page < last:
                    meta["next_page"] = page + 1
        meta["total_exact"] = getattr(page_params, "total_exact", True)
        headers = headers or {}
        headers[self.PAGINATION_HEADER_NAME] = json.dumps(meta)
        return result, headers


blp = CatalogueBlueprint(
    "charge_points",
    __name__,
    url_prefix="/charge-points",
    description="Find charge points and see their live status",
)

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class OriginArgs(Schema):
    """An optional place to measure distances from: both lat and lon, or neither."""

    lat = fields.Float(validate=validate.Range(-90, 90), metadata={"description": "Degrees"})
    lon = fields.Float(validate=validate.Range(-180, 180), metadata={"description": "Degrees"})

    @validates_schema
    def _both_or_neither(self, data, **_kwargs):  # type: ignore[no-untyped-def]
        if ("lat" in data) != ("lon" in data):
            missing = "lon" if "lat" in data else "lat"
            raise ValidationError("Give lat and lon together.", field_name=missing)


class SearchArgs(Schema):
    lat = fields.Float(required=True, validate=validate.Range(-90, 90))
    lon = fields.Float(required=True, validate=validate.Range(-180, 180))
    radius_km = fields.Float(
        load_default=catalogue.DEFAULT_RADIUS_M / 1000,
        validate=validate.Range(
            min=0, min_inclusive=False, max=catalogue.MAX_RADIUS_M / 1000, max_inclusive=True
        ),
    )
    plug_type = fields.List(
        fields.String(validate=validate.OneOf([p.value for p in PlugType])),
        metadata={"description": "Repeat to accept several plug types."},
    )
    min_power_kw = fields.Decimal(validate=validate.Range(min=0, max=10_000))
    available_now = fields.Boolean(
        load_default=False,
        metadata={"description": "A connector is Available and the charge point is online."},
    )
    operator_id = fields.Integer(validate=validate.Range(1, MAX_ID))
    price_group_id = fields.Integer(
        validate=validate.Range(1, MAX_ID),
        metadata={"description": "Only points where this price group applies to the caller."},
    )


class CatalogueConnectorSchema(Schema):
    connector_id = fields.Integer(required=True)
    plug_type = fields.String(required=True)
    max_power_kw = fields.Decimal(as_string=True, required=True)
    status = fields.String(required=True)
    status_at = fields.DateTime(allow_none=True)


class CatalogueNamedSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class CataloguePriceGroupSchema(CatalogueNamedSchema):
    kind = fields.String(required=True, metadata={"description": "company or public"})


class CatalogueAddressSchema(Schema):
    street = fields.String()
    postal_code = fields.String()
    city = fields.String()
    country = fields.String()


class CatalogueSiteSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    address = fields.Nested(CatalogueAddressSchema, required=True)
    latitude = fields.Float(required=True)
    longitude = fields.Float(required=True)
    operator = fields.Nested(CatalogueNamedSchema, required=True)
    visibility = fields.String(required=True)
    timezone = fields.String(required=True)
    currency = fields.String(required=True)


class CatalogueItemSchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True)
    last_seen_at = fields.DateTime(allow_none=True)
    distance_m = fields.Integer(
        allow_none=True, metadata={"description": "From the place searched; null without one."}
    )
    site = fields.Nested(CatalogueSiteSchema, required=True)
    connectors = fields.List(fields.Nested(CatalogueConnectorSchema), required=True)
    price_group = fields.Nested(
        CataloguePriceGroupSchema,
        allow_none=True,
        metadata={"description": "The group that applies to the caller at this point."},
    )
    member = fields.Boolean(
        metadata={"description": "The caller holds an active membership covering this point."}
    )
    favourite = fields.Boolean(
        allow_none=True, metadata={"description": "Starred by the caller; null unless a driver."}
    )


def item_json(item: catalogue.ChargePointView) -> dict[str, Any]:
    """CatalogueItemSchema's shape, built directly: a search page is the hottest answer of
    the API, and marshmallow takes longer to dump it than the database to find it.
    tests/integration/test_catalogue.py holds the two to the same shape."""
    site, group = item.site, item.price_group
    return {
        "id": item.id,
        "status": item.status,
        "last_seen_at": _iso(item.last_seen_at),
        "distance_m": item.distance_m,
        "site": {
            "id": site.id,
            "name": site.name,
            "address": vars(site.address),
            "latitude": site.latitude,
            "longitude": site.longitude,
            "operator": vars(site.operator),
            "visibility": site.visibility,
            "timezone": site.timezone,
            "currency": site.currency,
        },
        "connectors": [
            {
                "connector_id": c.connector_id,
                "plug_type": c.plug_type,
                "max_power_kw": str(c.max_power_kw),
                "status": c.status,
                "status_at": _iso(c.status_at),
            }
            for c in item.connectors
        ],
        "price_group": vars(group) if group else None,
        "member": item.member,
        "favourite": item.favourite,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def items_response(items: list[catalogue.ChargePointView]) -> Response:
    return jsonify([item_json(i) for i in items])


def viewer() -> Viewer:
    return Viewer.of(optional_principal())


def origin_of(args: dict[str, float]) -> catalogue.Origin | None:
    if "lat" not in args:
        return None
    return catalogue.validate_origin(args["lat"], args["lon"])


def filters_of(args: dict[str, object]) -> catalogue.Filters:
    kw = args.get("min_power_kw")
    watts = None
    if isinstance(kw, Decimal):
        # Connectors store whole watts: 7.4 kW is 7400 W, and 0.0005 kW asks for at least 1.
        watts = int((kw * 1000).to_integral_value(rounding=ROUND_CEILING))
    return catalogue.Filters(
        plug_types=tuple(args.get("plug_type") or ()),  # type: ignore[arg-type]
        min_power_w=watts,
        available_now=bool(args.get("available_now")),
        operator_id=args.get("operator_id"),  # type: ignore[arg-type]
        price_group_id=args.get("price_group_id"),  # type: ignore[arg-type]
    )


@blp.route("")
class ChargePoints(MethodView):
    # Schemas as instances: given a class, webargs builds a new schema for each request.
    @blp.arguments(SearchArgs(), location="query")
    @blp.response(200, CatalogueItemSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)
    def get(self, args, pagination_parameters):  # type: ignore[no-untyped-def]
        """Charge points within radius_km of lat/lon, nearest first. Anyone may call.

        Anonymous callers see public and semi-public points; a logged-in driver also sees
        the private points of the sites they are a member of, and the price group that
        applies to them at each point. The total is exact up to 1,000 points; beyond,
        X-Pagination has "total_exact": false and the pages stop at 1,000.
        """
        result = catalogue.search(
            db(),
            viewer(),
            container().clock(),
            catalogue.validate_origin(args["lat"], args["lon"]),
            radius_m=args["radius_km"] * 1000,
            filters=filters_of(args),
            page=pagination_parameters.page,
            page_size=pagination_parameters.page_size,
        )
        pagination_parameters.item_count = result.total
        pagination_parameters.total_exact = result.total_exact
        return items_response(result.items)


@blp.route("/<int:charge_point_id>")
class ChargePointDetails(MethodView):
    @blp.arguments(OriginArgs(), location="query")
    @blp.response(200, CatalogueItemSchema)
    def get(self, args, charge_point_id):  # type: ignore[no-untyped-def]
        """One charge point with its connectors and live status. Anyone may call.

        A private point the caller may not see answers 404, exactly like a missing one.
        Give lat and lon to get distance_m.
        """
        point = catalogue.details(
            db(), viewer(), container().clock(), charge_point_id, origin_of(args)
        )
        return jsonify(item_json(point))
