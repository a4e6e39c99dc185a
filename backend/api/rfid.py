"""RFID cards (OCPP idTags) an operator registers for its company drivers."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from backend.api.codes import ID, PLAIN_TEXT
from backend.api.context import allow, container, db, operator_scope
from backend.db.models.enums import Role
from backend.services import rfid

blp = Blueprint(
    "rfid",
    __name__,
    url_prefix="/operators",
    description="RFID cards (OCPP idTag) of an operator's company drivers",
)


@blp.before_request
def _operator_scope_first() -> None:
    """Another operator's data does not exist for the caller: answer 404 before the body
    is even read, so a request body cannot reveal anything either."""
    operator_id = (request.view_args or {}).get("operator_id")
    if operator_id is not None:
        operator_scope(operator_id)


class RfidTokenCreateSchema(Schema):
    # Length and characters are checked by the service after trimming, with OCPP's rules.
    id_tag = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "1-20 printable ASCII characters; case-insensitive"},
    )
    label = fields.String(load_default="", validate=[validate.Length(max=200), PLAIN_TEXT])
    price_group_id = fields.Integer(required=True, strict=True, validate=ID)
    driver_email = fields.String(validate=[validate.Length(max=320), PLAIN_TEXT])
    driver_id = fields.Integer(strict=True, validate=ID)


class RfidTokenQuerySchema(Schema):
    blocked = fields.Boolean()


class RfidTokenSchema(Schema):
    id = fields.Integer()
    id_tag = fields.String()
    label = fields.String()
    price_group_id = fields.Integer()
    driver_id = fields.Integer(allow_none=True)
    driver_email = fields.String(allow_none=True)
    blocked = fields.Boolean()
    blocked_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


def _out(view: rfid.TokenView) -> dict[str, object]:
    t = view.token
    return {
        "id": t.id,
        "id_tag": t.id_tag,
        "label": t.label,
        "price_group_id": t.price_group_id,
        "driver_id": t.driver_id,
        "driver_email": view.driver_email,
        "blocked": t.blocked_at is not None,
        "blocked_at": t.blocked_at,
        "created_at": t.created_at,
    }


@blp.route("/<int:operator_id>/rfid-tokens")
class Tokens(MethodView):
    @blp.arguments(RfidTokenQuerySchema, location="query")
    @blp.response(200, RfidTokenSchema(many=True))
    @blp.paginate()
    @allow(Role.OPERATOR_STAFF, Role.PLATFORM_ADMIN)
    def get(self, args, operator_id, pagination_parameters):  # type: ignore[no-untyped-def]
        """The operator's RFID cards, newest first; `blocked=true|false` filters."""
        operator_scope(operator_id)
        p = pagination_parameters
        page, total = rfid.list_tokens(
            db(), operator_id, blocked=args.get("blocked"), offset=p.first_item, limit=p.page_size
        )
        p.item_count = total
        return [_out(v) for v in page]

    @blp.arguments(RfidTokenCreateSchema)
    @blp.response(201, RfidTokenSchema)
    @allow(Role.OPERATOR_STAFF, Role.PLATFORM_ADMIN)
    def post(self, data, operator_id):  # type: ignore[no-untyped-def]
        """Register a card, optionally for a driver named by e-mail (or id). A card number
        is unique across the platform (409 when already registered)."""
        operator_scope(operator_id)
        new = rfid.NewToken(
            id_tag=data["id_tag"],
            price_group_id=data["price_group_id"],
            label=data["label"],
            driver_id=data.get("driver_id"),
            driver_email=data.get("driver_email"),
        )
        return _out(rfid.register_token(db(), operator_id, new, container().clock()))


@blp.route("/<int:operator_id>/rfid-tokens/<int:token_id>")
class Token(MethodView):
    @blp.response(200, RfidTokenSchema)
    @allow(Role.OPERATOR_STAFF, Role.PLATFORM_ADMIN)
    def get(self, operator_id, token_id):  # type: ignore[no-untyped-def]
        """One RFID card of the operator."""
        operator_scope(operator_id)
        return _out(rfid.get_token(db(), operator_id, token_id))


@blp.route("/<int:operator_id>/rfid-tokens/<int:token_id>/block")
class Block(MethodView):
    @blp.response(200, RfidTokenSchema)
    @allow(Role.OPERATOR_STAFF, Role.PLATFORM_ADMIN)
    def post(self, operator_id, token_id):  # type: ignore[no-untyped-def]
        """Block a card: chargers refuse it from now on. Blocking again changes nothing."""
        operator_scope(operator_id)
        return _out(rfid.set_blocked(db(), operator_id, token_id, True, container().clock()))


@blp.route("/<int:operator_id>/rfid-tokens/<int:token_id>/unblock")
class Unblock(MethodView):
    @blp.response(200, RfidTokenSchema)
    @allow(Role.OPERATOR_STAFF, Role.PLATFORM_ADMIN)
    def post(self, operator_id, token_id):  # type: ignore[no-untyped-def]
        """Unblock a card. Unblocking a card that is not blocked changes nothing."""
        operator_scope(operator_id)
        return _out(rfid.set_blocked(db(), operator_id, token_id, False, container().clock()))
