"""The operator's per-code statement of guest (operator_invoiced) sessions, to invoice
its guests from: JSON, or PDF."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from backend.api.context import allow, db
from backend.db.models.enums import Role
from backend.receipts import texts
from backend.receipts.statement_pdf import render_statement
from backend.services import statements
from backend.services.visibility import MAX_ID

blp = Blueprint(
    "statements",
    __name__,
    url_prefix="/operators/<int:operator_id>/statements",
    description="Per-code statements of guest sessions (operator_invoiced)",
)


class StatementArgs(Schema):
    period = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="YYYY-MM"),
        metadata={"description": "the month (YYYY-MM) the sessions ended in, site time"},
    )
    code_id = fields.Integer(
        load_default=None,
        validate=validate.Range(1, MAX_ID),
        metadata={"description": "one company code only; all codes when left out"},
    )


class StatementPdfArgs(StatementArgs):
    language = fields.String(load_default="en", validate=validate.OneOf(texts.LANGUAGES))


class StatementTotalsSchema(Schema):
    sessions = fields.String()
    energy_kwh = fields.String()
    gross = fields.String()
    net = fields.String()
    vat = fields.String()


class StatementCodeSchema(Schema):
    code = fields.Dict(allow_none=True, metadata={"description": "id, label, hint, kind"})
    sessions = fields.List(fields.Dict())
    totals = fields.Nested(StatementTotalsSchema)


class StatementSchema(Schema):
    operator = fields.Dict()
    operator_id = fields.Integer()
    period = fields.String()
    currency = fields.String()
    codes = fields.List(fields.Nested(StatementCodeSchema))
    totals = fields.Nested(StatementTotalsSchema)


@blp.route("")
class Statement(MethodView):
    @blp.arguments(StatementArgs, location="query")
    @blp.response(200, StatementSchema)
    @allow(Role.OPERATOR_STAFF, Role.PLATFORM_ADMIN)
    def get(self, args, operator_id):  # type: ignore[no-untyped-def]
        """Guest sessions of the month per company code: each with its energy and
        gross = net + VAT, and the totals. Another operator's code is 404."""
        return statements.operator_statement(db(), operator_id, args["period"], args["code_id"])


@blp.route("/pdf")
class StatementPdf(MethodView):
    @blp.arguments(StatementPdfArgs, location="query")
    @blp.doc(
        responses={
            "200": {
                "description": "The statement as PDF",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    )
    @allow(Role.OPERATOR_STAFF, Role.PLATFORM_ADMIN)
    def get(self, args, operator_id):  # type: ignore[no-untyped-def]
        """The same statement as PDF (language pl, en or nb)."""
        data = statements.operator_statement(db(), operator_id, args["period"], args["code_id"])
        body = render_statement(data, args["language"])
        return Response(
            body,
            mimetype="application/pdf",
            headers={
                "Content-Disposition": f'inline; filename="statement-{operator_id}-'
                f'{args["period"]}.pdf"'
            },
        )
