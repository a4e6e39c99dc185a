"""Platform management: operators, their staff logins and their price groups."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from backend.api.context import allow, container, db, operator_scope, principal
from backend.db.models.enums import PriceGroupKind, Role
from backend.services import operators

STAFF_OR_ADMIN = (Role.OPERATOR_STAFF, Role.PLATFORM_ADMIN)
# PostgreSQL text cannot hold NUL; control characters have no place in a name anyway.
PLAIN_TEXT = validate.Regexp(r"^[^\x00-\x1f\x7f]*$", error="No control characters.")
COUNTRY = validate.Regexp(r"^[A-Z]{2}$", error="Two capital letters, e.g. PL or NO.")


def text(max_len: int, *, required: bool = False, min_len: int = 0) -> fields.String:
    return fields.String(
        required=required, validate=[validate.Length(min=min_len, max=max_len), PLAIN_TEXT]
    )


def scope_operator_first(blp: Blueprint) -> None:
    """Another operator's data does not exist for the caller: answer 404 before the body
    is read, so neither the body nor its validation errors reveal anything."""

    @blp.before_request
    def _scope() -> None:
        operator_id = (request.view_args or {}).get("operator_id")
        if operator_id is not None:
            operator_scope(operator_id)


blp = Blueprint(
    "operators", __name__, url_prefix="/operators", description="Operators (site owners)"
)
staff_blp = Blueprint(
    "operator_staff", __name__, url_prefix="/operators", description="Operators' staff logins"
)
groups_blp = Blueprint(
    "price_groups",
    __name__,
    url_prefix="/operators",
    description="Price groups: classes of drivers priced alike (company or public)",
)
for _bp in (blp, staff_blp, groups_blp):
    scope_operator_first(_bp)


# --- operators -------------------------------------------------------------------------


class OperatorFields(Schema):
    name = text(200, min_len=1)
    legal_name = text(300)
    tax_id = text(40)
    country = fields.String(validate=COUNTRY, metadata={"description": "PL or NO"})
    email = fields.Email(validate=validate.Length(max=320))
    phone = text(40)


class OperatorCreateSchema(OperatorFields):
    name = text(200, min_len=1, required=True)
    country = fields.String(required=True, validate=COUNTRY)


class OperatorSchema(OperatorFields):
    id = fields.Integer()
    # Stored as "" when never given: an answer says so rather than claim an e-mail format.
    email = fields.String(metadata={"description": "Contact e-mail; empty if not given"})
    created_at = fields.DateTime()


@blp.route("")
class Operators(MethodView):
    @blp.response(200, OperatorSchema(many=True))
    @blp.paginate()
    @allow(*STAFF_OR_ADMIN)
    def get(self, pagination_parameters):  # type: ignore[no-untyped-def]
        """Operators by name. Operator staff see only their own operator."""
        p, who = pagination_parameters, principal()
        only = who.operator_id if who.role == Role.OPERATOR_STAFF else None
        page, p.item_count = operators.list_operators(
            db(), only=only, offset=p.first_item, limit=p.page_size
        )
        return page

    @blp.arguments(OperatorCreateSchema)
    @blp.response(201, OperatorSchema)
    @allow(Role.PLATFORM_ADMIN)
    def post(self, data):  # type: ignore[no-untyped-def]
        """Register an operator (a site owner under contract with the platform)."""
        return operators.create_operator(db(), data, container().clock())


@blp.route("/<int:operator_id>")
class OneOperator(MethodView):
    @blp.response(200, OperatorSchema)
    @allow(*STAFF_OR_ADMIN)
    def get(self, operator_id):  # type: ignore[no-untyped-def]
        """One operator; operator staff may read only their own."""
        return operators.get_operator(db(), operator_id)

    @blp.arguments(OperatorFields(partial=True))
    @blp.response(200, OperatorSchema)
    @allow(Role.PLATFORM_ADMIN)
    def patch(self, data, operator_id):  # type: ignore[no-untyped-def]
        """Change an operator's name, legal data, country or contact details."""
        return operators.update_operator(db(), operator_id, data)


# --- staff -----------------------------------------------------------------------------


class StaffCreateSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=320))
    password = fields.String(
        load_only=True,
        validate=validate.Length(max=200),
        metadata={"description": "At least 10 characters; omit it to have one generated"},
    )


class StaffSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    operator_id = fields.Integer()
    is_active = fields.Boolean()
    created_at = fields.DateTime()
    last_login_at = fields.DateTime(allow_none=True)


class CreatedStaffSchema(StaffSchema):
    password = fields.String(
        allow_none=True,
        metadata={"description": "The generated password, shown only now; null if chosen"},
    )


@staff_blp.route("/<int:operator_id>/staff")
class Staff(MethodView):
    @staff_blp.response(200, StaffSchema(many=True))
    @allow(*STAFF_OR_ADMIN)
    def get(self, operator_id):  # type: ignore[no-untyped-def]
        """The operator's staff logins, by e-mail."""
        return operators.list_staff(db(), operator_id)

    @staff_blp.arguments(StaffCreateSchema)
    @staff_blp.response(201, CreatedStaffSchema)
    @allow(*STAFF_OR_ADMIN)
    def post(self, data, operator_id):  # type: ignore[no-untyped-def]
        """Create a staff login for the operator. Without a password one is generated and
        shown in this answer only; only its argon2 hash is kept."""
        new = operators.create_staff(
            db(), operator_id, data["email"], data.get("password"), container().clock()
        )
        u = new.user
        fields_out = ("id", "email", "operator_id", "is_active", "created_at", "last_login_at")
        return {**{k: getattr(u, k) for k in fields_out}, "password": new.generated_password}


# --- price groups ----------------------------------------------------------------------


class OperatorPriceGroupCreateSchema(Schema):
    name = text(100, min_len=1, required=True)
    kind = fields.String(
        required=True,
        validate=validate.OneOf([k.value for k in PriceGroupKind]),
        metadata={"description": "company (members: residents, employees) or public"},
    )


class OperatorPriceGroupSchema(OperatorPriceGroupCreateSchema):
    id = fields.Integer()
    operator_id = fields.Integer()
    created_at = fields.DateTime()


@groups_blp.route("/<int:operator_id>/price-groups")
class PriceGroups(MethodView):
    @groups_blp.response(200, OperatorPriceGroupSchema(many=True))
    @allow(*STAFF_OR_ADMIN)
    def get(self, operator_id):  # type: ignore[no-untyped-def]
        """The operator's price groups, oldest first."""
        return operators.list_price_groups(db(), operator_id)

    @groups_blp.arguments(OperatorPriceGroupCreateSchema)
    @groups_blp.response(201, OperatorPriceGroupSchema)
    @allow(*STAFF_OR_ADMIN)
    def post(self, data, operator_id):  # type: ignore[no-untyped-def]
        """Create a price group; its name is unique within the operator (409 otherwise)."""
        return operators.create_price_group(
            db(), operator_id, data["name"], PriceGroupKind(data["kind"]), container().clock()
        )
