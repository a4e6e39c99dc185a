"""The caller's devices for push messages: register, list, remove."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from backend.api.context import allow, container, db, principal
from backend.db.models.enums import Role
from backend.services import devices
from backend.services.notification_texts import LANGUAGES

blp = Blueprint(
    "devices",
    __name__,
    url_prefix="/me/devices",
    description="Phones and browsers that receive the caller's push notifications",
)


class DeviceInSchema(Schema):
    token = fields.String(
        required=True,
        validate=validate.Regexp(
            rf"^[\x21-\x7e]{{1,{devices.MAX_TOKEN_LENGTH}}}$",
            error="A device token is printable characters without spaces.",
        ),
        metadata={"description": "The FCM registration token (any unique string offline)"},
    )
    platform = fields.String(required=True, validate=validate.OneOf(devices.PLATFORMS))
    language = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(LANGUAGES),
        metadata={"description": "The phone's language; default: the account's language"},
    )


class DeviceSchema(Schema):
    id = fields.Integer()
    token = fields.String()
    platform = fields.String()
    language = fields.String(allow_none=True)
    created_at = fields.DateTime()
    last_seen_at = fields.DateTime()


ALLOWED = (Role.DRIVER, Role.OPERATOR_STAFF)


@blp.route("")
class Devices(MethodView):
    @blp.response(200, DeviceSchema(many=True))
    @allow(*ALLOWED)
    def get(self):  # type: ignore[no-untyped-def]
        """The caller's registered devices, oldest first."""
        return devices.list_devices(db(), principal().user_id)

    @blp.arguments(DeviceInSchema)
    @blp.response(201, DeviceSchema)
    @blp.alt_response(200, schema=DeviceSchema, description="Already registered: refreshed")
    @allow(*ALLOWED)
    def post(self, data):  # type: ignore[no-untyped-def]
        """Register this device for push notifications.

        Call it at every app start and whenever the token changes (201 new, 200 already
        the caller's). A token another account had registered moves to the caller: the
        phone changed hands, and nothing more is sent to its old owner."""
        done = devices.register_device(
            db(),
            principal().user_id,
            data["token"],
            data["platform"],
            data["language"],
            container().clock(),
        )
        return done.device, (201 if done.created else 200)


@blp.route("/<int:device_id>")
class OneDevice(MethodView):
    @blp.response(204)
    @allow(*ALLOWED)
    def delete(self, device_id):  # type: ignore[no-untyped-def]
        """Stop pushing to a device (e.g. at log-out); the inbox is kept."""
        devices.remove_device(db(), principal().user_id, device_id)
