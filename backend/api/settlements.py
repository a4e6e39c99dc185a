"""Operator settlements (domain.md §2, §5): what each month came to between the
platform and the operator, how, and what was paid out or billed."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from backend.api.context import allow, container, db, principal
from backend.db.models.enums import Role
from backend.db.models.settlements import Payout
from backend.services import settlement_views as views
from backend.services import settlements

blp = Blueprint(
    "settlements",
    __name__,
    url_prefix="/operators",
    description="Monthly settlements between the platform and an operator, and payouts",
)
STAFF = (Role.OPERATOR_STAFF, Role.PLATFORM_ADMIN)


class SettlePeriodSchema(Schema):
    period = fields.String(required=True, metadata={"example": "2026-11"})


class PayoutBriefSchema(Schema):
    id = fields.Integer()
    method = fields.String(metadata={"description": "stripe (Connect transfer) or bank"})
    status = fields.String(metadata={"description": "pending, to_transfer, paid or failed"})
    amount = fields.String()
    currency = fields.String()
    reference = fields.String()
    failure = fields.String()
    paid_at = fields.DateTime(allow_none=True)


class SettlementSummarySchema(Schema):
    id = fields.Integer()
    number = fields.String()
    operator_id = fields.Integer()
    period = fields.String()
    period_start = fields.Date()
    period_end = fields.Date()
    business_case = fields.String()
    currency = fields.String()
    direction = fields.String(
        metadata={
            "description": "payout: the platform pays the operator; invoice: the platform "
            "bills the operator its fee (hotel); carried: refunds exceeded revenue, the "
            "negative balance goes into the next settlement; none: nothing either way"
        }
    )
    net = fields.String()
    vat = fields.String()
    gross = fields.String()
    created_at = fields.DateTime()
    payout = fields.Nested(PayoutBriefSchema, allow_none=True)


class SettlementLineSchema(Schema):
    description = fields.String()
    amount = fields.String(metadata={"description": "net; negative is owed to the platform"})


class SettlementSchema(SettlementSummarySchema):
    vat_rate = fields.Decimal(as_string=True)
    charge_points = fields.Integer()
    energy_kwh = fields.Decimal(as_string=True)
    revenue_net = fields.String()
    fee_net = fields.String()
    terms = fields.Dict(metadata={"description": "the contract's terms as applied"})
    lines = fields.List(fields.Nested(SettlementLineSchema))
    item_counts = fields.Dict(keys=fields.String(), values=fields.Integer())


class SettlementItemSchema(Schema):
    kind = fields.String(metadata={"description": "receipt, refund, session or balance"})
    origin_period = fields.String()
    net = fields.String()
    energy_kwh = fields.Decimal(as_string=True)
    receipt_id = fields.Integer(allow_none=True)
    refund_id = fields.Integer(allow_none=True)
    session_id = fields.Integer(allow_none=True)
    reference = fields.String()


@blp.route("/<int:operator_id>/settlements")
class Settlements(MethodView):
    @blp.response(200, SettlementSummarySchema(many=True))
    @blp.paginate(page_size=20, max_page_size=100)
    @allow(*STAFF)
    def get(self, pagination_parameters, operator_id):  # type: ignore[no-untyped-def]
        """The operator's settlements, newest period first."""
        s = db()
        found = views.list_for_operator(
            s, operator_id, pagination_parameters.page, pagination_parameters.page_size
        )
        pagination_parameters.item_count = found.total
        return [views.summary(s, row) for row in found.items]

    @blp.arguments(SettlePeriodSchema)
    @blp.response(201, SettlementSchema)
    @blp.alt_response(200, schema=SettlementSchema, description="settled before: unchanged")
    @allow(Role.PLATFORM_ADMIN)
    def post(self, body, operator_id):  # type: ignore[no-untyped-def]
        """Settle a month now (platform admin; the worker does it by itself once the
        month has ended everywhere). A month is settled once: asking again returns the
        same settlement (200). 409 when the month is not over, the operator had no
        contract, or a later month is already settled."""
        s, c = db(), container()
        outcome = settlements.settle_period(
            s,
            operator_id,
            body["period"],
            c.clock(),
            connect_payouts=getattr(c, "payouts", None) is not None,
            user_id=principal().user_id,
        )
        row = outcome.settlement
        if outcome.created:
            settlements.notify_ready(s, c.notifications, row, c.clock())
            _send_payout(s, c, row)
        return views.detail(s, row), 201 if outcome.created else 200


def _send_payout(s, c, row) -> None:  # type: ignore[no-untyped-def]
    """A Connect transfer goes out at once; a bank payout waits for platform staff."""
    from backend.services import payouts

    gateway = getattr(c, "payouts", None)
    payout = s.scalar(select(Payout).where(Payout.settlement_id == row.id))
    if payout is not None and gateway is not None and payout.method == "stripe":
        payouts.send(s, gateway, payout, c.clock())


@blp.route("/<int:operator_id>/settlements/<int:settlement_id>")
class OneSettlement(MethodView):
    @blp.response(200, SettlementSchema)
    @allow(*STAFF)
    def get(self, operator_id, settlement_id):  # type: ignore[no-untyped-def]
        """One settlement: the contract's terms as applied, the lines (revenue, refunds,
        fees, balance brought forward), net, VAT on top, gross, and its payout."""
        s = db()
        return views.detail(s, views.get(s, operator_id, settlement_id))


@blp.route("/<int:operator_id>/settlements/<int:settlement_id>/items")
class SettlementItems(MethodView):
    @blp.response(200, SettlementItemSchema(many=True))
    @blp.paginate(page_size=50, max_page_size=500)
    @allow(*STAFF)
    def get(self, pagination_parameters, operator_id, settlement_id):  # type: ignore[no-untyped-def]
        """What the settlement counted: each receipt, refund and session (with its
        energy), and any balance brought forward, with the period it belongs to."""
        s = db()
        row = views.get(s, operator_id, settlement_id)
        found = views.items(s, row, pagination_parameters.page, pagination_parameters.page_size)
        pagination_parameters.item_count = found.total
        return found.items
