"""Accounts: driver registration, login, token refresh, logout, the driver's own profile."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from backend.api.context import allow, container, db, principal
from backend.db.models.enums import Language, Role
from backend.services import accounts

blp = Blueprint("auth", __name__, url_prefix="/auth", description="Accounts and tokens")


class ProfileFields(Schema):
    full_name = fields.String(validate=validate.Length(max=200))
    language = fields.String(validate=validate.OneOf([x.value for x in Language]))
    phone = fields.String(validate=validate.Length(max=40))
    billing_name = fields.String(validate=validate.Length(max=200))
    billing_street = fields.String(validate=validate.Length(max=200))
    billing_postal_code = fields.String(validate=validate.Length(max=20))
    billing_city = fields.String(validate=validate.Length(max=100))
    billing_country = fields.String(
        validate=validate.Regexp(r"^([A-Z]{2})?$", error="Two capital letters, e.g. PL or NO.")
    )
    billing_tax_id = fields.String(validate=validate.Length(max=40))


class RegisterSchema(ProfileFields):
    email = fields.Email(required=True, validate=validate.Length(max=320))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=200))


class LoginSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(max=320))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=200))


class RefreshSchema(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(max=200))


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(dump_default="Bearer")
    expires_in = fields.Integer(required=True)
    role = fields.String(required=True)


class ProfileSchema(ProfileFields):
    id = fields.Integer(dump_only=True)
    email = fields.String(dump_only=True)


class PasswordChangeSchema(Schema):
    current_password = fields.String(required=True, load_only=True)
    new_password = fields.String(required=True, load_only=True, validate=validate.Length(max=200))


def _tokens(pair: accounts.TokenPair) -> dict[str, object]:
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
        "role": pair.role,
    }


def _profile(user, driver) -> dict[str, object]:  # type: ignore[no-untyped-def]
    data = {k: getattr(driver, k) for k in accounts.PROFILE_FIELDS}
    return {"id": user.id, "email": user.email, **data}


@blp.route("/register")
class Register(MethodView):
    @blp.arguments(RegisterSchema)
    @blp.response(201, TokenSchema)
    def post(self, data):  # type: ignore[no-untyped-def]
        """Create a driver account and log it in. Anyone may call."""
        email, password = data.pop("email"), data.pop("password")
        c = container()
        accounts.register_driver(db(), email, password, data)
        return _tokens(accounts.login(db(), email, password, c.settings, c.clock()))


@blp.route("/login")
class Login(MethodView):
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenSchema)
    def post(self, data):  # type: ignore[no-untyped-def]
        """Log in with e-mail and password (drivers, operator staff, admins). Anyone may call."""
        c = container()
        return _tokens(accounts.login(db(), data["email"], data["password"], c.settings, c.clock()))


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.arguments(RefreshSchema)
    @blp.response(200, TokenSchema)
    def post(self, data):  # type: ignore[no-untyped-def]
        """Trade a refresh token for a new pair; the old refresh token stops working.
        Anyone holding a refresh token may call."""
        c = container()
        return _tokens(accounts.refresh(db(), data["refresh_token"], c.settings, c.clock()))


@blp.route("/logout")
class Logout(MethodView):
    @blp.arguments(RefreshSchema)
    @blp.response(204)
    def post(self, data):  # type: ignore[no-untyped-def]
        """End this login on every device that shares its refresh-token family.
        Anyone holding a refresh token may call."""
        c = container()
        accounts.logout(db(), data["refresh_token"], c.settings, c.clock())


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, ProfileSchema)
    @allow(Role.DRIVER)
    def get(self):  # type: ignore[no-untyped-def]
        """The driver's own profile."""
        return _profile(*accounts.get_profile(db(), principal().user_id))

    @blp.arguments(ProfileFields(partial=True))
    @blp.response(200, ProfileSchema)
    @allow(Role.DRIVER)
    def patch(self, data):  # type: ignore[no-untyped-def]
        """Change the driver's name, language or billing address."""
        return _profile(*accounts.update_profile(db(), principal().user_id, data))


@blp.route("/me/password")
class MyPassword(MethodView):
    @blp.arguments(PasswordChangeSchema)
    @blp.response(204)
    @allow(Role.DRIVER, Role.OPERATOR_STAFF, Role.PLATFORM_ADMIN)
    def post(self, data):  # type: ignore[no-untyped-def]
        """Change one's own password; every other login is ended."""
        c = container()
        accounts.change_password(
            db(), principal().user_id, data["current_password"], data["new_password"], c.clock()
        )
