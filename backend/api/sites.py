"""An operator's sites. Changes need the ETag last read (If-Match), so two staff members
editing one site at once cannot silently overwrite each other."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from backend.api.context import allow, container, db
from backend.api.contracts import plain
from backend.api.operators import COUNTRY, STAFF_OR_ADMIN, scope_operator_first, text
from backend.db.models import Site
from backend.db.models.enums import Visibility
from backend.services import sites

blp = Blueprint(
    "sites", __name__, url_prefix="/operators", description="Sites: where charge points stand"
)
scope_operator_first(blp)

VISIBILITY = validate.OneOf([v.value for v in Visibility])
ID = validate.Range(min=1, max=2**31 - 1, error="Not a valid id.")


class ManagedSiteFields(Schema):
    name = text(200, min_len=1)
    street = text(200)
    postal_code = text(20)
    city = text(100)
    latitude = fields.Float(metadata={"description": "Decimal degrees, -90 to 90"})
    longitude = fields.Float(metadata={"description": "Decimal degrees, -180 to 180"})
    timezone = fields.String(
        validate=validate.Length(max=64),
        metadata={"description": "IANA name, e.g. Europe/Warsaw; default: the country's"},
    )
    visibility = fields.String(
        validate=VISIBILITY,
        metadata={"description": "private (members only), public or semi_public"},
    )
    default_price_group_id = fields.Integer(
        strict=True,
        validate=ID,
        allow_none=True,
        metadata={
            "description": "Group for drivers without a membership; kind public at "
            "public and semi-public sites. Default: the operator's first public group."
        },
    )


class ManagedSiteCreateSchema(ManagedSiteFields):
    name = text(200, min_len=1, required=True)
    country = fields.String(
        required=True,
        validate=COUNTRY,
        metadata={"description": "PL or NO; sets the currency and VAT rate"},
    )
    latitude = fields.Float(required=True)
    longitude = fields.Float(required=True)
    visibility = fields.String(required=True, validate=VISIBILITY)


class ManagedSitePatchSchema(ManagedSiteFields):
    country = fields.String(
        validate=COUNTRY, metadata={"description": "Cannot change; accepted if unchanged"}
    )


class ManagedSiteSchema(ManagedSiteFields):
    id = fields.Integer()
    operator_id = fields.Integer()
    country = fields.String()
    currency = fields.String(metadata={"description": "From the country"})
    vat_rate = fields.String(metadata={"description": 'From the country, e.g. "0.23"'})
    created_at = fields.DateTime()


def _out(site: Site) -> dict[str, object]:
    return {
        "id": site.id,
        "operator_id": site.operator_id,
        "name": site.name,
        "street": site.street,
        "postal_code": site.postal_code,
        "city": site.city,
        "country": site.country,
        "latitude": site.latitude,
        "longitude": site.longitude,
        "timezone": site.timezone,
        "currency": site.currency,
        "vat_rate": plain(site.vat_rate),
        "visibility": site.visibility,
        "default_price_group_id": site.default_price_group_id,
        "created_at": site.created_at,
    }


@blp.route("/<int:operator_id>/sites")
class Sites(MethodView):
    @blp.response(200, ManagedSiteSchema(many=True))
    @blp.paginate()
    @allow(*STAFF_OR_ADMIN)
    def get(self, operator_id, pagination_parameters):  # type: ignore[no-untyped-def]
        """The operator's sites, by name."""
        p = pagination_parameters
        page, p.item_count = sites.list_sites(
            db(), operator_id, offset=p.first_item, limit=p.page_size
        )
        return [_out(x) for x in page]

    @blp.arguments(ManagedSiteCreateSchema)
    @blp.response(201, ManagedSiteSchema)
    @allow(*STAFF_OR_ADMIN)
    def post(self, data, operator_id):  # type: ignore[no-untyped-def]
        """Create a site. Currency and VAT rate follow from `country` (PL: PLN 23%,
        NO: NOK 25%); the time zone defaults to the country's."""
        return _out(sites.create_site(db(), operator_id, data, container().clock()))


@blp.route("/<int:operator_id>/sites/<int:site_id>")
class OneSite(MethodView):
    @blp.etag
    @blp.response(200, ManagedSiteSchema)
    @allow(*STAFF_OR_ADMIN)
    def get(self, operator_id, site_id):  # type: ignore[no-untyped-def]
        """One site, with its ETag for a later change."""
        return _out(sites.get_site(db(), operator_id, site_id))

    @blp.etag
    @blp.arguments(ManagedSitePatchSchema(partial=True))
    @blp.response(200, ManagedSiteSchema)
    @allow(*STAFF_OR_ADMIN)
    def patch(self, data, operator_id, site_id):  # type: ignore[no-untyped-def]
        """Change a site. Send `If-Match` with the ETag last read: without it 428, and
        412 when somebody changed the site since (read it again and redo the change)."""
        site = sites.get_site(db(), operator_id, site_id, for_update=True)
        blp.check_etag(_out(site), ManagedSiteSchema)
        return _out(sites.update_site(db(), site, data))
