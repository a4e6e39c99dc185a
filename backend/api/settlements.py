"""Operator settlements (domain.md §2, §5): what each month came to between the
platform and the operator, how, and what was paid out or billed."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from backend.api.context import allow, container, db, principal
from backend.db.models.enums import Role
from backend.db.models.settlements import Payout
from backend.receipts import texts
from backend.receipts.settlement_pdf import render_settlement
from backend.services import settlement_views as views
from backend.services import settlements
from backend.services.receipts import Seller

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
            connect_payouts=c.payouts is not None,
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

    gateway = c.payouts
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


class SettlementPdfArgs(Schema):
    lang = fields.String(
        load_default=None,
        validate=validate.OneOf(texts.LANGUAGES),
        metadata={
            "description": "pl, en or nb; when left out, the operator's country's language "
            "(pl for Poland, nb for Norway, else en)"
        },
    )


def _binary(description: str, mimetype: str) -> dict[str, Any]:
    """OpenAPI for a 200 that is a file, not JSON (as receipts' PDF documents it)."""
    return {
        "responses": {
            "200": {
                "description": description,
                "content": {mimetype: {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    }


@blp.route("/<int:operator_id>/settlements/<int:settlement_id>/pdf")
class SettlementPdf(MethodView):
    @blp.arguments(SettlementPdfArgs, location="query")
    @blp.doc(**_binary("The settlement as a PDF document", "application/pdf"))
    @allow(*STAFF)
    def get(self, args, operator_id, settlement_id):  # type: ignore[no-untyped-def]
        """The settlement as a B2B document: a payout statement (the platform owes the
        operator), an invoice for the network fee (hotel), or a balance carried forward;
        with both parties, the contract's terms as applied, the lines, net, VAT, gross,
        the payout, and every item settled."""
        s, c = db(), container()
        row = views.get(s, operator_id, settlement_id)
        seller = Seller.from_settings(c.settings)
        platform = {
            "name": seller.name,
            "address": seller.address,
            "tax_id": seller.tax_id,
            "timezone": seller.timezone,
        }
        language = views.language_for(s, row, args["lang"])
        body = render_settlement(
            views.document(s, row, platform), views.all_items(s, row), language
        )
        return Response(
            body,
            mimetype="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{views.document_name(row)}.pdf"'},
        )


@blp.route("/<int:operator_id>/settlements/<int:settlement_id>/items.csv")
class SettlementItemsCsv(MethodView):
    @blp.doc(**_binary("Every item of the settlement, one per row, with a header row",
                       "text/csv"))  # fmt: skip
    @allow(*STAFF)
    def get(self, operator_id, settlement_id):  # type: ignore[no-untyped-def]
        """Every item the settlement counted as CSV (kind, origin_period, reference,
        receipt_id, refund_id, session_id, energy_kwh to 0.001, net to the currency's
        minor unit; decimal point), to reconcile in a spreadsheet."""
        s = db()
        row = views.get(s, operator_id, settlement_id)
        name = f"{views.document_name(row)}-items.csv"
        return Response(
            views.items_csv(s, row),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
