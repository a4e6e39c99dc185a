"""A driver's receipts (and correction notes, and hotel guests' charging statements):
the list, one as JSON, one as PDF in the driver's language. Another driver's is 404."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from backend.api.context import allow, db, principal
from backend.db.models.enums import Role
from backend.receipts import texts
from backend.receipts.pdf import render_receipt
from backend.services import receipts_view

blp = Blueprint("receipts", __name__, url_prefix="/me/receipts", description="A driver's receipts")


class LanguageArgs(Schema):
    language = fields.String(
        load_default=None,
        validate=validate.OneOf(texts.LANGUAGES),
        metadata={"description": "pl, en or nb; the driver's own language when left out"},
    )


class ReceiptSummarySchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "receipt, correction or service_statement"})
    number = fields.String(metadata={"description": "e.g. WP/2026/000123"})
    issued_at = fields.DateTime()
    currency = fields.String()
    gross = fields.String(metadata={"description": 'total incl. VAT, e.g. "69.40"'})
    session_id = fields.Integer(allow_none=True)
    period = fields.String(allow_none=True, metadata={"description": "YYYY-MM (monthly)"})


class ReceiptLineSchema(Schema):
    kind = fields.String(metadata={"description": "energy, idle or refund"})
    description = fields.String()
    session_id = fields.Integer(allow_none=True)
    quantity = fields.String()
    unit = fields.String()
    unit_price = fields.String(metadata={"description": "gross"})
    amount = fields.String(metadata={"description": "gross, rounded half up at the line"})
    price_version = fields.String(allow_none=True)
    plan = fields.Dict(allow_none=True)


class ReceiptSchema(ReceiptSummarySchema):
    title = fields.String()
    language = fields.String()
    issued_at_local = fields.String(metadata={"description": "in the site's time zone"})
    timezone = fields.String()
    vat_rate = fields.String(metadata={"description": 'e.g. "0.23"'})
    net = fields.String()
    vat = fields.String()
    seller = fields.Dict()
    buyer = fields.Dict()
    site = fields.Dict()
    invoiced_by = fields.Dict(allow_none=True)
    lines = fields.List(fields.Nested(ReceiptLineSchema))
    sessions = fields.List(
        fields.Dict(),
        metadata={
            "description": "session id, charge point, times (UTC and local), meter start "
            "and stop (Wh), energy, price version: what each line comes from"
        },
    )
    card = fields.Dict(allow_none=True, metadata={"description": "brand and last4"})
    payment_id = fields.Integer(allow_none=True)
    corrects = fields.Dict(allow_none=True, metadata={"description": "the receipt corrected"})
    refund = fields.Dict(allow_none=True)


@blp.route("")
class Receipts(MethodView):
    @blp.response(200, ReceiptSummarySchema(many=True))
    @blp.paginate(page_size=20, max_page_size=100)
    @allow(Role.DRIVER)
    def get(self, pagination_parameters):  # type: ignore[no-untyped-def]
        """The driver's documents, newest first."""
        found = receipts_view.list_for_driver(
            db(),
            principal().user_id,
            pagination_parameters.page,
            pagination_parameters.page_size,
        )
        pagination_parameters.item_count = found.total
        return [receipts_view.summary(r) for r in found.items]


@blp.route("/<int:receipt_id>")
class OneReceipt(MethodView):
    @blp.arguments(LanguageArgs, location="query")
    @blp.response(200, ReceiptSchema)
    @allow(Role.DRIVER)
    def get(self, args, receipt_id):  # type: ignore[no-untyped-def]
        """One of the driver's documents: seller, buyer, lines, VAT, card, session
        references (meter start/stop, price version). Another driver's is 404."""
        s, me = db(), principal().user_id
        receipt = receipts_view.own_receipt(s, me, receipt_id)
        return receipts_view.view(receipt, receipts_view.language_for(s, me, args["language"]))


@blp.route("/<int:receipt_id>/pdf")
class ReceiptPdf(MethodView):
    @blp.arguments(LanguageArgs, location="query")
    @blp.doc(
        responses={
            "200": {
                "description": "The document as PDF",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    )
    @allow(Role.DRIVER)
    def get(self, args, receipt_id):  # type: ignore[no-untyped-def]
        """One of the driver's documents as PDF, in the driver's language (pl, en, nb)."""
        s, me = db(), principal().user_id
        receipt = receipts_view.own_receipt(s, me, receipt_id)
        language = receipts_view.language_for(s, me, args["language"])
        body = render_receipt(receipts_view.view(receipt, language), language)
        name = receipt.number.replace("/", "-")
        return Response(
            body,
            mimetype="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
        )
