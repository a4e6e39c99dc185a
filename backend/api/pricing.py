"""Operators set and change the prices of a site per price group, with history and ETag
protection against two staff members overwriting each other."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from backend.api.context import allow, container, db, principal
from backend.api.pricing_schemas import PriceChangeSchema, SitePricesSchema
from backend.db.models import Site
from backend.db.models.enums import Role
from backend.errors import NotFound
from backend.services import pricing
from backend.services.visibility import valid_id

blp = Blueprint(
    "pricing",
    __name__,
    url_prefix="/operators",
    description="Prices per site and price group (operator portal)",
)
STAFF = (Role.OPERATOR_STAFF, Role.PLATFORM_ADMIN)


def operator_site(operator_id: int, site_id: int) -> Site:
    site = db().get(Site, site_id) if valid_id(site_id) else None
    if site is None or site.operator_id != operator_id:
        raise NotFound("No such site.")
    return site


def _etag_data(site: Site) -> list[tuple[int, int]]:
    return [(r.price_group_id, r.revision) for r in pricing.history(db(), site.id)]


def _site_prices(site: Site) -> dict[str, object]:
    now = container().clock()
    rows = pricing.history(db(), site.id)
    in_force = {}
    for r in rows:
        if r.effective_from <= now:
            current = in_force.get(r.price_group_id)
            if current is None or (r.effective_from, r.revision) >= (
                current.effective_from,
                current.revision,
            ):
                in_force[r.price_group_id] = r
    versions = []
    for r in rows:
        status = (
            "in_force"
            if in_force.get(r.price_group_id) is r
            else "scheduled"
            if r.effective_from > now
            else "superseded"
        )
        versions.append(
            {
                **{
                    c: getattr(r, c)
                    for c in (
                        "id",
                        "price_group_id",
                        "revision",
                        "model",
                        "currency",
                        "vat_rate",
                        "energy_per_kwh",
                        "idle_per_minute",
                        "idle_window_start",
                        "idle_window_end",
                        "idle_grace_minutes",
                        "billing_mode",
                        "effective_from",
                        "created_at",
                        "created_by",
                    )
                },
                "status": status,
            }
        )
    return {
        "site_id": site.id,
        "currency": site.currency,
        "timezone": site.timezone,
        "versions": versions,
    }


@blp.route("/<int:operator_id>/sites/<int:site_id>/prices")
class SitePrices(MethodView):
    @blp.etag
    @blp.response(200, SitePricesSchema)
    @allow(*STAFF)
    def get(self, operator_id, site_id):  # type: ignore[no-untyped-def]
        """Every price version of the site, per price group, with its status. Send the
        ETag back as If-Match when changing a price."""
        site = operator_site(operator_id, site_id)
        blp.set_etag(_etag_data(site))
        return _site_prices(site)


@blp.route("/<int:operator_id>/sites/<int:site_id>/prices/<int:price_group_id>")
class GroupPrice(MethodView):
    @blp.etag
    @blp.arguments(PriceChangeSchema)
    @blp.response(200, SitePricesSchema)
    @allow(*STAFF)
    def put(self, data, operator_id, site_id, price_group_id):  # type: ignore[no-untyped-def]
        """Schedule the price of one price group: from `effective_from` (default now) on,
        sessions that start are priced with it; sessions already started keep theirs.
        Needs If-Match with the ETag of the site's prices (428 without, 412 if stale)."""
        site = operator_site(operator_id, site_id)
        blp.check_etag(_etag_data(site))
        change = pricing.PriceChange(price_group_id=price_group_id, **data)
        pricing.set_price(db(), site, change, principal().user_id, container().clock())
        blp.set_etag(_etag_data(site))
        return _site_prices(site)
