"""Operator contracts: business case and network-management fee (domain.md §2, §5)."""

from __future__ import annotations

from decimal import Decimal

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from backend.api.context import allow, container, db
from backend.api.operators import STAFF_OR_ADMIN, scope_operator_first
from backend.db.models import OperatorContract
from backend.db.models.enums import BusinessCase, Role
from backend.services import contracts

blp = Blueprint(
    "contracts",
    __name__,
    url_prefix="/operators",
    description="Contracts between the platform and an operator",
)
scope_operator_first(blp)


def plain(value: Decimal | None) -> str | None:
    """A decimal as written by a person: 5 not 5.000000, 0.9 not 9E-1."""
    return None if value is None else format(value.normalize(), "f")


class ContractCreateSchema(Schema):
    business_case = fields.String(
        required=True,
        validate=validate.OneOf([c.value for c in BusinessCase]),
        metadata={"description": "P1 residential, P2 hotel, PUB public, SEMI semi-public"},
    )
    currency = fields.String(
        validate=validate.Regexp(r"^[A-Z]{3}$", error="Three capital letters, e.g. PLN."),
        metadata={"description": "Defaults to the currency of the operator's country"},
    )
    fee_percent = fields.Decimal(
        load_default=Decimal(0), metadata={"description": "Share of net revenue, 0-100"}
    )
    fee_fixed_per_cp = fields.String(
        load_default="0",
        validate=validate.Length(max=20),
        metadata={"description": 'Net per charge point per month, e.g. "30.00"'},
    )
    fee_per_kwh_net = fields.Decimal(load_default=Decimal(0))
    agreed_price_per_kwh_net = fields.Decimal(
        metadata={"description": "PUB only (required there): net price paid per kWh"}
    )
    operator_invoices_users = fields.Boolean(
        metadata={"description": "The operator bills its users itself; default true for P2"}
    )
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(
        allow_none=True, metadata={"description": "Last day in force; null: open-ended"}
    )


class ContractSchema(Schema):
    id = fields.Integer()
    operator_id = fields.Integer()
    business_case = fields.String()
    currency = fields.String()
    fee_percent = fields.String()
    fee_fixed_per_cp = fields.String(metadata={"description": 'Major units, e.g. "30.00"'})
    fee_fixed_per_cp_minor = fields.Integer(metadata={"description": "Minor units (grosze)"})
    fee_per_kwh_net = fields.String()
    agreed_price_per_kwh_net = fields.String(allow_none=True)
    operator_invoices_users = fields.Boolean()
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)
    created_at = fields.DateTime()


def _out(c: OperatorContract) -> dict[str, object]:
    return {
        "id": c.id,
        "operator_id": c.operator_id,
        "business_case": c.business_case,
        "currency": c.currency,
        "fee_percent": plain(c.fee_percent),
        "fee_fixed_per_cp": contracts.minor_to_major(c.fee_fixed_per_cp_minor, c.currency),
        "fee_fixed_per_cp_minor": c.fee_fixed_per_cp_minor,
        "fee_per_kwh_net": plain(c.fee_per_kwh_net),
        "agreed_price_per_kwh_net": plain(c.agreed_price_per_kwh_net),
        "operator_invoices_users": c.operator_invoices_users,
        "valid_from": c.valid_from,
        "valid_to": c.valid_to,
        "created_at": c.created_at,
    }


@blp.route("/<int:operator_id>/contracts")
class Contracts(MethodView):
    @blp.response(200, ContractSchema(many=True))
    @allow(*STAFF_OR_ADMIN)
    def get(self, operator_id):  # type: ignore[no-untyped-def]
        """The operator's contracts, oldest first."""
        return [_out(c) for c in contracts.list_contracts(db(), operator_id)]

    @blp.arguments(ContractCreateSchema)
    @blp.response(201, ContractSchema)
    @allow(Role.PLATFORM_ADMIN)
    def post(self, data, operator_id):  # type: ignore[no-untyped-def]
        """Record a contract. Periods of one operator's contracts may not overlap (409).
        PUB needs `agreed_price_per_kwh_net` and has no fee; the others may not have one.
        `fee_fixed_per_cp` is an exact amount: more decimals than the currency has is 422."""
        new = contracts.NewContract(
            business_case=BusinessCase(data["business_case"]),
            valid_from=data["valid_from"],
            valid_to=data.get("valid_to"),
            currency=data.get("currency"),
            fee_percent=data["fee_percent"],
            fee_fixed_per_cp=data["fee_fixed_per_cp"],
            fee_per_kwh_net=data["fee_per_kwh_net"],
            agreed_price_per_kwh_net=data.get("agreed_price_per_kwh_net"),
            operator_invoices_users=data.get("operator_invoices_users"),
        )
        return _out(contracts.create_contract(db(), operator_id, new, container().clock()))


class ContractEndSchema(Schema):
    last_day = fields.Date(required=True, metadata={"description": "inclusive"})


@blp.route("/<int:operator_id>/contracts/<int:contract_id>/end")
class EndContract(MethodView):
    @blp.arguments(ContractEndSchema)
    @blp.response(200, ContractSchema)
    @allow(Role.PLATFORM_ADMIN)
    def post(self, data, operator_id, contract_id):  # type: ignore[no-untyped-def]
        """End a contract on `last_day` (inclusive), to make room for new terms. It can
        be shortened, not lengthened (422), and not into a month already settled (409).
        The month it ends in is its last settlement: what the operator still owes then
        is invoiced rather than carried forward."""
        c = contracts.end_contract(db(), operator_id, contract_id, data["last_day"])
        return _out(c)
