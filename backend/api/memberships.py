"""The driver's memberships: redeem a company code, list them, leave one."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from backend.api.context import allow, client_address, container, db, principal
from backend.api.errors import ErrorSchema
from backend.db.models.enums import Role
from backend.services import memberships

blp = Blueprint(
    "memberships",
    __name__,
    url_prefix="/me/memberships",
    description="Company codes redeemed by the driver, and what they open",
)


class RedeemSchema(Schema):
    code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "As given by the operator; case, spaces and dashes ignored"},
    )


class MembershipQuerySchema(Schema):
    include_ended = fields.Boolean(load_default=False)


class MembershipOperatorSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class MembershipSiteSchema(MembershipOperatorSchema):
    city = fields.String()


class MembershipPriceGroupSchema(MembershipOperatorSchema):
    kind = fields.String()


class MembershipSchema(Schema):
    id = fields.Integer()
    operator = fields.Nested(MembershipOperatorSchema)
    sites = fields.List(fields.Nested(MembershipSiteSchema))
    price_group = fields.Nested(MembershipPriceGroupSchema)
    billing_mode = fields.String()
    source = fields.String(metadata={"description": "code or rfid"})
    code_kind = fields.String(allow_none=True, metadata={"description": "permanent or temporary"})
    status = fields.String(metadata={"description": "active, expired or ended"})
    starts_at = fields.DateTime()
    valid_until = fields.DateTime(allow_none=True, metadata={"description": "None: no end"})
    ended_at = fields.DateTime(allow_none=True)


def _out(view: memberships.MembershipView) -> dict[str, object]:
    m = view.membership
    return {
        "id": m.id,
        "operator": view.operator,
        "sites": m.sites,
        "price_group": view.price_group,
        "billing_mode": m.billing_mode,
        "source": m.source,
        "code_kind": view.code_kind,
        "status": view.status,
        "starts_at": m.starts_at,
        "valid_until": m.ends_at,
        "ended_at": m.revoked_at,
    }


@blp.route("")
class Memberships(MethodView):
    @blp.arguments(MembershipQuerySchema, location="query")
    @blp.response(200, MembershipSchema(many=True))
    @allow(Role.DRIVER)
    def get(self, args):  # type: ignore[no-untyped-def]
        """The driver's active memberships; `include_ended=true` adds expired and ended ones."""
        now = container().clock()
        found = memberships.list_memberships(
            db(), principal().user_id, now, include_ended=args["include_ended"]
        )
        return [_out(v) for v in memberships.describe(db(), found, now)]

    @blp.arguments(RedeemSchema)
    @blp.response(201, MembershipSchema)
    @blp.alt_response(200, schema=MembershipSchema, description="Code already redeemed")
    @blp.alt_response(429, schema=ErrorSchema, description="Too many wrong codes; see Retry-After")
    @allow(Role.DRIVER)
    def post(self, data):  # type: ignore[no-untyped-def]
        """Redeem a company code. Redeeming the same code again returns the same
        membership (200). Wrong codes are counted per account and per network address:
        after too many, every attempt is refused for a while (429, Retry-After)."""
        c = container()
        now = c.clock()
        caller = memberships.Caller(principal().user_id, client_address())
        done = memberships.redeem_code(db(), c.throttle, c.settings, caller, data["code"], now)
        body = _out(memberships.describe(db(), [done.membership], now)[0])
        return body, (201 if done.created else 200)


@blp.route("/<int:membership_id>")
class OneMembership(MethodView):
    @blp.response(200, MembershipSchema)
    @allow(Role.DRIVER)
    def get(self, membership_id):  # type: ignore[no-untyped-def]
        """One of the driver's memberships (also ended ones)."""
        now = container().clock()
        m = memberships.get_membership(db(), principal().user_id, membership_id)
        return _out(memberships.describe(db(), [m], now)[0])

    @blp.response(204)
    @allow(Role.DRIVER)
    def delete(self, membership_id):  # type: ignore[no-untyped-def]
        """Leave a membership: its private sites disappear from the driver's app."""
        memberships.leave(db(), principal().user_id, membership_id, container().clock())
