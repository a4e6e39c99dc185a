"""The caller's inbox of notifications, and the push outbox of the embedded default.

The inbox is paginated the flask-smorest way: `page` and `page_size` in the query, the
items as the body, `X-Pagination` ({total, total_pages, ...}) as a header.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from backend.api.context import allow, container, db, principal
from backend.db.models.enums import Role
from backend.services import notification_outbox, notifications
from backend.services.visibility import MAX_ID

blp = Blueprint(
    "notifications",
    __name__,
    url_prefix="/me/notifications",
    description="The caller's notifications: sessions, payments, codes, chargers",
)
outbox_blp = Blueprint(
    "outbox",
    __name__,
    url_prefix="/me/outbox",
    description="Push messages kept for the app to poll when Firebase is not configured",
)

ALLOWED = (Role.DRIVER, Role.OPERATOR_STAFF)


class InboxArgs(Schema):
    unread_only = fields.Boolean(load_default=False)


class NotificationSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "e.g. session_ended, charger_faulted"})
    title = fields.String()
    body = fields.String()
    data = fields.Dict(
        keys=fields.String(), values=fields.String(), metadata={"description": "Ids to open"}
    )
    language = fields.String()
    created_at = fields.DateTime()
    read = fields.Function(lambda n: n.read_at is not None, metadata={"type": "boolean"})
    read_at = fields.DateTime(allow_none=True)


class UnreadSchema(Schema):
    unread = fields.Integer()


class MarkedSchema(Schema):
    marked = fields.Integer(metadata={"description": "How many were unread until now"})


class OutboxArgs(Schema):
    after = fields.Integer(
        load_default=0,
        validate=validate.Range(0, MAX_ID),
        metadata={"description": "The last id the app has seen; 0 for all"},
    )
    device_id = fields.Integer(
        validate=validate.Range(1, MAX_ID),
        metadata={"description": "Only the messages sent to this device"},
    )
    limit = fields.Integer(
        load_default=notification_outbox.MAX_POLL,
        validate=validate.Range(1, notification_outbox.MAX_POLL),
    )


class OutboxMessageSchema(Schema):
    id = fields.Integer()
    device_id = fields.Integer(allow_none=True)
    title = fields.String()
    body = fields.String()
    data = fields.Dict(keys=fields.String(), values=fields.String())
    created_at = fields.DateTime()


@blp.route("")
class Inbox(MethodView):
    @blp.arguments(InboxArgs, location="query")
    @blp.response(200, NotificationSchema(many=True))
    @blp.paginate(page_size=20, max_page_size=100)
    @allow(*ALLOWED)
    def get(self, args, pagination_parameters):  # type: ignore[no-untyped-def]
        """The caller's notifications, newest first; `unread_only=true` for the unread."""
        found = notifications.inbox(
            db(),
            principal().user_id,
            page=pagination_parameters.page,
            page_size=pagination_parameters.page_size,
            unread_only=args["unread_only"],
        )
        pagination_parameters.item_count = found.total
        return found.items


@blp.route("/unread-count")
class UnreadCount(MethodView):
    @blp.response(200, UnreadSchema)
    @allow(*ALLOWED)
    def get(self):  # type: ignore[no-untyped-def]
        """How many of the caller's notifications are unread (for the badge)."""
        return {"unread": notifications.unread_count(db(), principal().user_id)}


@blp.route("/read-all")
class ReadAll(MethodView):
    @blp.response(200, MarkedSchema)
    @allow(*ALLOWED)
    def post(self):  # type: ignore[no-untyped-def]
        """Mark every notification of the caller read."""
        marked = notifications.mark_all_read(db(), principal().user_id, container().clock())
        return {"marked": marked}


@blp.route("/<int:notification_id>/read")
class ReadOne(MethodView):
    @blp.response(200, NotificationSchema)
    @allow(*ALLOWED)
    def post(self, notification_id):  # type: ignore[no-untyped-def]
        """Mark one notification read (again is fine). Another user's is 404."""
        return notifications.mark_read(
            db(), principal().user_id, notification_id, container().clock()
        )


@outbox_blp.route("")
class Outbox(MethodView):
    @outbox_blp.arguments(OutboxArgs, location="query")
    @outbox_blp.response(200, OutboxMessageSchema(many=True))
    @allow(*ALLOWED)
    def get(self, args):  # type: ignore[no-untyped-def]
        """Push messages for the caller's devices, newest last.

        Poll with the last id seen as `after`. Only the embedded default (no Firebase
        configured) keeps messages here; with Firebase the list stays empty."""
        return notification_outbox.read_outbox(
            db(),
            principal().user_id,
            after=args["after"],
            device_id=args.get("device_id"),
            limit=args["limit"],
        )
