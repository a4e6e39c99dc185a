"""Company codes, operator side: create (the code is shown once), list, show, revoke."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from backend.api.context import allow, container, db, operator_scope, principal
from backend.db.models import CompanyCode
from backend.db.models.enums import BillingMode, CodeKind, Role
from backend.services import codes
from shared.codes import utc_to_local

blp = Blueprint(
    "codes",
    __name__,
    url_prefix="/operators",
    description="Company codes an operator hands to residents, employees and hotel guests",
)


@blp.before_request
def _operator_scope_first() -> None:
    """Another operator's data does not exist for the caller: answer 404 before the body
    is even read, so a request body cannot reveal anything either."""
    operator_id = (request.view_args or {}).get("operator_id")
    if operator_id is not None:
        operator_scope(operator_id)


ID = validate.Range(min=1, max=2**31 - 1, error="Not a valid id.")
# PostgreSQL text cannot hold NUL; control characters have no place in a label anyway.
PLAIN_TEXT = validate.Regexp(r"^[^\x00-\x1f\x7f]*$", error="No control characters.")
LOCAL_TIME = {
    "invalid": "Give the local wall-clock time at the site without an offset, "
    "e.g. 2026-11-20T14:00."
}


class CodeCreateSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in CodeKind]))
    label = fields.String(load_default="", validate=[validate.Length(max=200), PLAIN_TEXT])
    site_ids = fields.List(
        fields.Integer(strict=True, validate=ID),
        required=True,
        validate=validate.Length(min=1, max=500),
    )
    price_group_id = fields.Integer(required=True, strict=True, validate=ID)
    billing_mode = fields.String(validate=validate.OneOf([b.value for b in BillingMode]))
    valid_from = fields.NaiveDateTime(
        error_messages=LOCAL_TIME,
        metadata={"description": "Temporary codes: local time at the sites, no offset."},
    )
    valid_to = fields.NaiveDateTime(
        error_messages=LOCAL_TIME,
        metadata={"description": "Temporary codes: local time at the sites, no offset."},
    )
    max_sessions = fields.Integer(strict=True, validate=validate.Range(min=1, max=100_000))
    max_kwh = fields.Decimal(
        validate=validate.Range(min=0, min_inclusive=False, max=1_000_000),
        metadata={"description": "kWh, up to 3 decimal places"},
    )


class CodeQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf([s.value for s in codes.CodeStatus]))
    kind = fields.String(validate=validate.OneOf([k.value for k in CodeKind]))


class CodeRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class CodePriceGroupSchema(CodeRefSchema):
    kind = fields.String()


class CodeSchema(Schema):
    id = fields.Integer()
    hint = fields.String(metadata={"description": "Last characters of the code"})
    label = fields.String()
    kind = fields.String()
    status = fields.String(metadata={"description": "active, expired or revoked"})
    billing_mode = fields.String()
    price_group = fields.Nested(CodePriceGroupSchema)
    sites = fields.List(fields.Nested(CodeRefSchema))
    timezone = fields.String()
    valid_from = fields.DateTime(allow_none=True, metadata={"description": "UTC"})
    valid_to = fields.DateTime(allow_none=True, metadata={"description": "UTC"})
    valid_from_local = fields.NaiveDateTime(allow_none=True)
    valid_to_local = fields.NaiveDateTime(allow_none=True)
    max_sessions = fields.Integer(allow_none=True)
    max_kwh = fields.Decimal(as_string=True, allow_none=True)
    active_members = fields.Integer()
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)


class CreatedCodeSchema(CodeSchema):
    code = fields.String(
        metadata={"description": "The code itself. Shown only now: only its hash is kept."}
    )


def _out(view: codes.CodeView) -> dict[str, object]:
    c = view.code
    local = {
        name: utc_to_local(value, c.timezone) if value else None
        for name, value in (("valid_from_local", c.valid_from), ("valid_to_local", c.valid_until))
    }
    return {
        "id": c.id,
        "hint": c.hint,
        "label": c.label,
        "kind": c.kind,
        "status": view.status.value,
        "billing_mode": c.billing_mode,
        "price_group": view.price_group,
        "sites": c.sites,
        "timezone": c.timezone,
        "valid_from": c.valid_from,
        "valid_to": c.valid_until,
        **local,
        "max_sessions": c.max_sessions,
        "max_kwh": c.max_kwh,
        "active_members": view.active_members,
        "created_at": c.created_at,
        "revoked_at": c.revoked_at,
    }


def _one(code: CompanyCode) -> dict[str, object]:
    return _out(codes.describe(db(), [code], container().clock())[0])


@blp.route("/<int:operator_id>/codes")
class Codes(MethodView):
    @blp.arguments(CodeQuerySchema, location="query")
    @blp.response(200, CodeSchema(many=True))
    @blp.paginate()
    @allow(Role.OPERATOR_STAFF, Role.PLATFORM_ADMIN)
    def get(self, args, operator_id, pagination_parameters):  # type: ignore[no-untyped-def]
        """List the operator's codes, newest first; filter by status or kind.
        The codes themselves are never listed, only their hints."""
        operator_scope(operator_id)
        now = container().clock()
        p = pagination_parameters
        page, total = codes.list_codes(
            db(),
            operator_id,
            now,
            status=codes.CodeStatus(args["status"]) if "status" in args else None,
            kind=CodeKind(args["kind"]) if "kind" in args else None,
            offset=p.first_item,
            limit=p.page_size,
        )
        p.item_count = total
        return [_out(v) for v in codes.describe(db(), page, now)]

    @blp.arguments(CodeCreateSchema)
    @blp.response(201, CreatedCodeSchema)
    @allow(Role.OPERATOR_STAFF, Role.PLATFORM_ADMIN)
    def post(self, data, operator_id):  # type: ignore[no-untyped-def]
        """Create a code for some of the operator's sites. The answer holds the code itself,
        for the only time: write it down or hand it over now.

        Temporary codes take `valid_from` and `valid_to` as local wall-clock times at the
        sites (which must share one time zone). A time skipped by the spring-forward clock
        change is refused; a time that occurs twice in the autumn means its first
        occurrence (still summer time)."""
        operator_scope(operator_id)
        new = codes.NewCode(
            kind=CodeKind(data["kind"]),
            site_ids=data["site_ids"],
            price_group_id=data["price_group_id"],
            label=data["label"],
            billing_mode=BillingMode(data["billing_mode"]) if "billing_mode" in data else None,
            valid_from_local=data.get("valid_from"),
            valid_to_local=data.get("valid_to"),
            max_sessions=data.get("max_sessions"),
            max_kwh=data.get("max_kwh"),
            created_by=principal().user_id,
        )
        c = container()
        created = codes.create_code(db(), operator_id, new, c.settings.secret_key, c.clock())
        return {**_one(created.code), "code": created.plain}


@blp.route("/<int:operator_id>/codes/<int:code_id>")
class Code(MethodView):
    @blp.response(200, CodeSchema)
    @allow(Role.OPERATOR_STAFF, Role.PLATFORM_ADMIN)
    def get(self, operator_id, code_id):  # type: ignore[no-untyped-def]
        """One code with its status and how many drivers hold it now."""
        operator_scope(operator_id)
        return _one(codes.get_code(db(), operator_id, code_id))


@blp.route("/<int:operator_id>/codes/<int:code_id>/revoke")
class RevokeCode(MethodView):
    @blp.response(200, CodeSchema)
    @allow(Role.OPERATOR_STAFF, Role.PLATFORM_ADMIN)
    def post(self, operator_id, code_id):  # type: ignore[no-untyped-def]
        """Revoke a code: nobody can redeem it any more and every membership made from it
        ends now. Revoking again changes nothing."""
        operator_scope(operator_id)
        return _one(codes.revoke_code(db(), operator_id, code_id, container().clock()))
