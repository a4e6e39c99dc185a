"""Marshmallow schemas of the pricing endpoints."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate

from backend.db.models.enums import BillingMode
from shared.pricing import PricingModel

HHMM = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="Use HH:MM, e.g. 08:00.")
NON_NEGATIVE = validate.Range(min=0, error="Cannot be negative.")
# Amounts are stored as NUMERIC(18, 6) (ExactDecimal): a bigger one would fail the insert
# (a 500) and a finer one would be rounded without a word. Both are refused instead.
MAX_AMOUNT = Decimal(1_000_000)
AMOUNT_PLACES = 6


def _amount_fits(value: Decimal) -> None:
    if value > MAX_AMOUNT:
        raise ValidationError(f"Must be at most {MAX_AMOUNT}.")
    if value.normalize().as_tuple().exponent < -AMOUNT_PLACES:  # type: ignore[operator]
        raise ValidationError(f"Use at most {AMOUNT_PLACES} decimal places.")


def money_field(**kw):  # type: ignore[no-untyped-def]
    return fields.Decimal(as_string=True, validate=[NON_NEGATIVE, _amount_fits], **kw)


class PriceChangeSchema(Schema):
    model = fields.String(required=True, validate=validate.OneOf([m.value for m in PricingModel]))
    energy_per_kwh = money_field(load_default=Decimal(0))
    idle_per_minute = money_field(load_default=Decimal(0))
    idle_window_start = fields.String(load_default=None, allow_none=True, validate=HHMM)
    idle_window_end = fields.String(load_default=None, allow_none=True, validate=HHMM)
    idle_grace_minutes = fields.Integer(load_default=0, validate=validate.Range(0, 24 * 60))
    billing_mode = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf([b.value for b in BillingMode])
    )
    effective_from = fields.AwareDateTime(load_default=None, allow_none=True)
    currency = fields.String(load_default=None, allow_none=True)


class PriceVersionSchema(Schema):
    id = fields.Integer()
    price_group_id = fields.Integer()
    revision = fields.Integer()
    model = fields.String()
    currency = fields.String()
    vat_rate = fields.Decimal(as_string=True)
    energy_per_kwh = fields.Decimal(as_string=True)
    idle_per_minute = fields.Decimal(as_string=True)
    idle_window_start = fields.String(allow_none=True)
    idle_window_end = fields.String(allow_none=True)
    idle_grace_minutes = fields.Integer()
    billing_mode = fields.String()
    effective_from = fields.DateTime()
    created_at = fields.DateTime()
    created_by = fields.Integer(allow_none=True)
    status = fields.String(metadata={"description": "in_force, scheduled or superseded"})


class SitePricesSchema(Schema):
    site_id = fields.Integer()
    currency = fields.String()
    timezone = fields.String()
    versions = fields.List(fields.Nested(PriceVersionSchema))


class LineSchema(Schema):
    kind = fields.String()
    description = fields.String()
    quantity = fields.Decimal(as_string=True)
    unit = fields.String()
    unit_price = fields.Decimal(as_string=True)
    amount = fields.String()


class GroupSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()


class QuoteSchema(Schema):
    charge_point_id = fields.Integer()
    site_id = fields.Integer()
    currency = fields.String()
    vat_rate = fields.Decimal(as_string=True)
    model = fields.String()
    price_group = fields.Nested(GroupSchema, allow_none=True)
    member = fields.Boolean()
    plan = fields.Dict(allow_none=True)
    plan_required = fields.Boolean()
    energy_per_kwh = fields.Decimal(as_string=True, allow_none=True)
    idle_per_minute = fields.Decimal(as_string=True)
    idle_window = fields.Dict(allow_none=True)
    idle_grace_minutes = fields.Integer()
    billing_mode = fields.String()
    price_version = fields.String()
    warnings = fields.List(fields.String())


class PreviewArgs(Schema):
    kwh = fields.Decimal(required=True, validate=validate.Range(min=0, max=1000))
    idle_minutes = fields.Integer(load_default=0, validate=validate.Range(0, 7 * 24 * 60))


class PreviewSchema(Schema):
    quote = fields.Nested(QuoteSchema)
    energy_kwh = fields.Decimal(as_string=True)
    lines = fields.List(fields.Nested(LineSchema))
    billable_idle_minutes = fields.Integer()
    gross = fields.String()
    net = fields.String()
    vat = fields.String()
    currency = fields.String()


class PlanSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9-]{2,40}$"))
    name = fields.String(required=True, validate=validate.Length(1, 100))
    currency = fields.String(required=True, validate=validate.OneOf(["PLN", "NOK", "EUR"]))
    price_per_kwh = money_field(required=True)
    monthly_fee = money_field(required=True)


class PlanChoiceSchema(Schema):
    plan_code = fields.String(required=True)
    accept_terms = fields.Boolean(required=True)


class DriverPlanSchema(Schema):
    plan = fields.Nested(PlanSchema)
    status = fields.String()
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
