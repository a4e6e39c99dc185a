"""A site's supply side for operators: its connection, meter readings and the supply cost
of a period with the resulting cost per kWh (domain.md §4)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from backend.api.context import allow, container, db, principal
from backend.api.pricing import operator_site
from backend.db.models.enums import Role
from backend.db.models.pricing import MeterReading, SiteSupply
from backend.errors import NotFound
from backend.services import supply

blp = Blueprint(
    "supply",
    __name__,
    url_prefix="/operators",
    description="Site electricity supply and its cost (operator portal)",
)
STAFF = (Role.OPERATOR_STAFF, Role.PLATFORM_ADMIN)
POSITIVE = validate.Range(min=0, min_inclusive=False, error="Must be more than 0.")


class SupplySchema(Schema):
    voltage_kv = fields.Decimal(as_string=True, required=True, validate=POSITIVE)
    contracted_kw = fields.Decimal(as_string=True, required=True, validate=POSITIVE)
    fuse_a = fields.Decimal(as_string=True, load_default=None, allow_none=True, validate=POSITIVE)
    invoice_form = fields.String(required=True, validate=validate.OneOf(["paper", "einvoice"]))
    tariff_group = fields.String(load_default=None, allow_none=True)
    metering_systems = fields.Integer(load_default=1, validate=validate.Range(1, 100))
    tariff_id = fields.String(dump_only=True)
    group_since = fields.Date(dump_only=True)


class ReadingSchema(Schema):
    id = fields.Integer(dump_only=True)
    read_on = fields.Date(required=True)
    register_kwh = fields.Decimal(as_string=True, required=True, validate=validate.Range(min=0))


class CostArgs(Schema):
    start = fields.Date(required=True, data_key="from")
    end = fields.Date(required=True, data_key="to")
    declared_resale_kwh = fields.Decimal(load_default=None, validate=validate.Range(min=0))


class CostLineSchema(Schema):
    description = fields.String()
    quantity = fields.Decimal(as_string=True)
    unit = fields.String()
    unit_price = fields.Decimal(as_string=True)
    amount = fields.String()


class CostSchema(Schema):
    tariff_id = fields.String()
    tariff_group = fields.String()
    metered_kwh = fields.Decimal(as_string=True)
    lines = fields.List(fields.Nested(CostLineSchema))
    net = fields.String()
    vat = fields.String()
    gross = fields.String()
    currency = fields.String()
    cost_per_kwh_net = fields.Decimal(as_string=True, allow_none=True)
    readings = fields.List(fields.Nested(ReadingSchema))


@blp.route("/<int:operator_id>/sites/<int:site_id>/supply")
class Supply(MethodView):
    @blp.response(200, SupplySchema)
    @allow(*STAFF)
    def get(self, operator_id, site_id):  # type: ignore[no-untyped-def]
        """The site's supply connection and tariff group."""
        site = operator_site(operator_id, site_id)
        row = db().get(SiteSupply, site.id)
        if row is None:
            raise NotFound("The site's supply connection has not been entered yet.")
        return row

    @blp.arguments(SupplySchema)
    @blp.response(200, SupplySchema)
    @allow(*STAFF)
    def put(self, data, operator_id, site_id):  # type: ignore[no-untyped-def]
        """Enter the connection; the tariff group follows from voltage, contracted power
        and fuse (110 kV and above is refused), and may change only as the tariff allows."""
        site = operator_site(operator_id, site_id)
        return supply.set_supply(db(), site, today=container().clock().date(), **data)


@blp.route("/<int:operator_id>/sites/<int:site_id>/meter-readings")
class Readings(MethodView):
    @blp.response(200, ReadingSchema(many=True))
    @allow(*STAFF)
    def get(self, operator_id, site_id):  # type: ignore[no-untyped-def]
        """The supply meter readings entered for the site, oldest first."""
        site = operator_site(operator_id, site_id)
        return (
            db()
            .query(MeterReading)
            .filter(MeterReading.site_id == site.id)
            .order_by(MeterReading.read_on)
        )

    @blp.arguments(ReadingSchema)
    @blp.response(201, ReadingSchema)
    @allow(*STAFF)
    def post(self, data, operator_id, site_id):  # type: ignore[no-untyped-def]
        """Enter a reading of the supply meter (kWh register, taken at the start of the day)."""
        site = operator_site(operator_id, site_id)
        return supply.add_reading(
            db(), site, data["read_on"], data["register_kwh"], principal().user_id
        )


@blp.route("/<int:operator_id>/sites/<int:site_id>/supply-cost")
class Cost(MethodView):
    @blp.arguments(CostArgs, location="query")
    @blp.response(200, CostSchema)
    @allow(*STAFF)
    def get(self, args, operator_id, site_id):  # type: ignore[no-untyped-def]
        """The supplier's bill for the period between two readings ([from, to)), and the
        resulting net cost per kWh; declared_resale_kwh bills that part at resale prices."""
        site = operator_site(operator_id, site_id)
        cost = supply.supply_cost(
            db(), site, args["start"], args["end"], args["declared_resale_kwh"]
        )
        inv = cost.invoice
        return {
            "tariff_id": inv.tariff_id,
            "tariff_group": inv.group,
            "metered_kwh": inv.metered_kwh,
            "currency": inv.net.currency,
            "lines": [
                {
                    "description": x.description,
                    "quantity": x.quantity,
                    "unit": x.unit,
                    "unit_price": x.unit_price,
                    "amount": supply.money_str(x.amount),
                }
                for x in inv.lines
            ],
            "net": supply.money_str(inv.net),
            "vat": supply.money_str(inv.vat),
            "gross": supply.money_str(inv.gross),
            "cost_per_kwh_net": cost.cost_per_kwh_net,
            "readings": [cost.start_reading, cost.end_reading],
        }
