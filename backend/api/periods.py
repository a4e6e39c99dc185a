"""Closing a variable-cost (housing co-op) site's month, for operators (domain.md §3):
the site's actual electricity cost from its meter readings and supply tariff, shared over
the drivers by kWh, the rest to the owner; then each driver is charged once and gets the
month's receipt."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from backend.api.context import allow, container, db, principal
from backend.api.pricing import operator_site
from backend.db.models.enums import Role
from backend.services import billing_coop

blp = Blueprint(
    "periods",
    __name__,
    url_prefix="/operators",
    description="Variable-cost (co-op) billing periods: the actual cost shared at month end",
)
STAFF = (Role.OPERATOR_STAFF, Role.PLATFORM_ADMIN)


class CostSplitSchema(Schema):
    net = fields.String()
    vat = fields.String()
    gross = fields.String()


class ReadingUsedSchema(Schema):
    id = fields.Integer(allow_none=True)
    read_on = fields.Date()
    register_kwh = fields.Decimal(as_string=True)


class PeriodCostLineSchema(Schema):
    description = fields.String()
    quantity = fields.String()
    unit = fields.String()
    unit_price = fields.String()
    amount = fields.String()


class ShareSessionSchema(Schema):
    session_id = fields.Integer()
    kwh = fields.Decimal(as_string=True, allow_none=True)
    gross = fields.String(allow_none=True)
    status = fields.String(allow_none=True)
    receipt_id = fields.Integer(allow_none=True)


class CostShareSchema(CostSplitSchema):
    driver_id = fields.Integer(allow_none=True)
    kwh = fields.Decimal(as_string=True)
    sessions = fields.List(fields.Nested(ShareSessionSchema))


class TariffUsedSchema(Schema):
    id = fields.String()
    group = fields.String()
    invoice_form = fields.String()


class PeriodSchema(Schema):
    id = fields.Integer()
    operator_id = fields.Integer(allow_none=True)
    site_id = fields.Integer()
    period = fields.String()
    timezone = fields.String()
    status = fields.String()
    closed_at = fields.DateTime()
    closed_by = fields.Integer(allow_none=True)
    tariff = fields.Nested(TariffUsedSchema)
    meter_readings = fields.List(fields.Nested(ReadingUsedSchema))
    metered_kwh = fields.Decimal(as_string=True)
    drivers_kwh = fields.Decimal(as_string=True)
    owner_kwh = fields.Decimal(as_string=True)
    currency = fields.String()
    vat_rate = fields.Decimal(as_string=True)
    cost = fields.Nested(CostSplitSchema)
    cost_lines = fields.List(fields.Nested(PeriodCostLineSchema))
    cost_per_kwh_net = fields.Decimal(as_string=True, allow_none=True)
    cost_per_kwh_gross = fields.Decimal(as_string=True, allow_none=True)
    owner = fields.Nested(CostSplitSchema, metadata={"description": "passed through to the owner"})
    shares = fields.List(fields.Nested(CostShareSchema))
    explanation = fields.List(fields.String())


PATH = "/<int:operator_id>/sites/<int:site_id>/periods/<string:period>"


@blp.route(PATH)
class Period(MethodView):
    @blp.response(200, PeriodSchema)
    @allow(*STAFF)
    def get(self, operator_id, site_id, period):  # type: ignore[no-untyped-def]
        """A closed month of a variable-cost site: the supply cost (tariff, meter
        readings, invoice lines), the cost per kWh, each driver's share with its
        sessions, and what was passed through to the owner."""
        site = operator_site(operator_id, site_id)
        s = db()
        return billing_coop.view(s, billing_coop.get(s, site, period))


@blp.route(PATH + "/close")
class ClosePeriod(MethodView):
    @blp.response(200, PeriodSchema)
    @allow(*STAFF)
    def post(self, operator_id, site_id, period):  # type: ignore[no-untyped-def]
        """Close the month (YYYY-MM, site time): compute its actual electricity cost from
        the meter readings of the 1st of the month and of the next month and the supply
        tariff, share it over the drivers by kWh (exact, largest remainder; the rest to
        the owner), then charge each driver once and issue the month's receipt.

        409 `period_not_ready` when a reading or the supply connection is missing or the
        month is not over (nothing is charged); 409 `period_closed` when already closed."""
        site = operator_site(operator_id, site_id)
        s, c = db(), container()
        row = billing_coop.close(s, c.session_billing, site, period, c.clock(), principal().user_id)
        return billing_coop.view(s, row)
