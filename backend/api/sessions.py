"""Charging sessions: a driver starts and stops them from the app and follows the live
one; an operator's staff list the sessions at their sites."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from backend.api.context import allow, container, db, principal
from backend.api.errors import ErrorSchema
from backend.api.operators import STAFF_OR_ADMIN, scope_operator_first
from backend.db.models.enums import Role
from backend.services import session_commands as commands
from backend.services import session_views as views
from backend.services.session_follow_up import notify_progress

blp = Blueprint(
    "sessions",
    __name__,
    url_prefix="/me",
    description="A driver's charging sessions: start, stop, the live session, history",
)
staff_blp = Blueprint(
    "operator_sessions",
    __name__,
    url_prefix="/operators",
    description="Charging sessions at an operator's sites",
)
scope_operator_first(staff_blp)

ID = validate.Range(min=1, max=2**31 - 1)


class StartArgs(Schema):
    charge_point_id = fields.Integer(required=True, strict=True, validate=ID)
    connector_id = fields.Integer(required=True, strict=True, validate=validate.Range(1, 32))


class StartSchema(Schema):
    id = fields.Integer(metadata={"description": "The start; poll GET /me/session-starts/{id}"})
    status = fields.String(
        metadata={"description": "pending | accepted (waiting for the car) | started | failed"}
    )
    charge_point_id = fields.Integer()
    connector_id = fields.Integer()
    billing_mode = fields.String(
        metadata={"description": "per_session | monthly | operator_invoiced"}
    )
    payment = fields.String(
        attribute="payment_decision",
        metadata={"description": "hold_placed | card_on_file | no_payment_needed"},
    )
    session_id = fields.Integer(
        allow_none=True, metadata={"description": "The charging session once the charger began"}
    )
    error_code = fields.String()
    error = fields.String()
    created_at = fields.DateTime()


class SessionSchema(Schema):
    id = fields.Integer()
    state = fields.String(
        metadata={
            "description": "charging | car_full | stopped (cable still in) | ended | interrupted"
        }
    )
    status = fields.String()
    charge_point_id = fields.Integer()
    ocpp_identity = fields.String()
    connector_id = fields.Integer()
    site_id = fields.Integer()
    site_name = fields.String()
    started_at = fields.DateTime()
    stopped_at = fields.DateTime(allow_none=True)
    car_full_at = fields.DateTime(allow_none=True)
    unplugged_at = fields.DateTime(allow_none=True)
    duration_s = fields.Integer(metadata={"description": "Seconds from start to unplug (or now)"})
    energy_kwh = fields.Decimal(as_string=True)
    power_kw = fields.Decimal(
        as_string=True, allow_none=True, metadata={"description": "Last sample"}
    )
    currency = fields.String()
    cost_so_far = fields.String(
        allow_none=True, metadata={"description": "Gross, priced with the session's price version"}
    )
    idle_minutes = fields.Integer(
        allow_none=True, metadata={"description": "Billable idle minutes so far (car full)"}
    )
    amount = fields.String(
        allow_none=True, metadata={"description": "The final amount, once billed"}
    )
    billing_status = fields.String(allow_none=True)
    receipt_id = fields.Integer(allow_none=True)
    start_id = fields.Integer(allow_none=True)


class StaffSessionSchema(SessionSchema):
    driver_id = fields.Integer(allow_none=True)


class StaffQuery(Schema):
    site_id = fields.Integer(load_default=None, strict=True, validate=ID)
    active = fields.Boolean(load_default=False, metadata={"description": "Only running ones"})


@blp.route("/sessions")
class Sessions(MethodView):
    @blp.response(200, SessionSchema(many=True))
    @blp.paginate(page_size=20, max_page_size=100)
    @allow(Role.DRIVER)
    def get(self, pagination_parameters):  # type: ignore[no-untyped-def]
        """The driver's charging sessions, newest first."""
        p = pagination_parameters
        items, p.item_count = views.driver_history(
            db(), principal().user_id, container().clock(), offset=p.first_item, limit=p.page_size
        )
        return [vars(v) for v in items]

    @blp.arguments(StartArgs)
    @blp.response(201, StartSchema)
    @blp.alt_response(
        402, schema=ErrorSchema, description="A card is needed, was declined or needs 3-D Secure"
    )
    @blp.alt_response(
        403, schema=ErrorSchema, description="A plan is needed at this public station"
    )
    @blp.alt_response(
        404, schema=ErrorSchema, description="No such (visible) charge point or connector"
    )
    @blp.alt_response(
        409, schema=ErrorSchema, description="Connector busy, charger offline or refused"
    )
    @blp.alt_response(
        503, schema=ErrorSchema, description="Card payments or the charger connection unavailable"
    )
    @blp.alt_response(504, schema=ErrorSchema, description="The charger did not answer in time")
    @allow(Role.DRIVER)
    def post(self, data):  # type: ignore[no-untyped-def]
        """Start charging at a connector: the card is authorized first (a hold for pay per
        session), then the charger is asked to start. Answers with the start to poll; the
        session appears when the charger reports it (usually within seconds)."""
        c = container()
        req = commands.StartIn(principal().user_id, data["charge_point_id"], data["connector_id"])
        return commands.start_session(db(), c.billing, c.charger_gateway, req, c.clock())


@blp.route("/session-starts/<int:start_id>")
class OneStart(MethodView):
    @blp.response(200, StartSchema)
    @allow(Role.DRIVER)
    def get(self, start_id):  # type: ignore[no-untyped-def]
        """A start from the app: still pending, started (with its session), or failed
        (and why). Another driver's is 404."""
        c, s = container(), db()
        start = commands.get_start(s, principal().user_id, start_id)
        notify_progress(s, c.notifications, start, c.clock())
        return start


@blp.route("/sessions/<int:session_id>")
class OneSession(MethodView):
    @blp.response(200, SessionSchema)
    @allow(Role.DRIVER)
    def get(self, session_id):  # type: ignore[no-untyped-def]
        """The driver's session: its state, energy so far, power, duration and cost so far
        (with idle minutes once the car is full); when ended, the final amount and the
        receipt. Another driver's is 404."""
        s = db()
        session = commands.own_session(s, principal().user_id, session_id)
        return vars(views.view(s, session, container().clock()))


@blp.route("/sessions/<int:session_id>/stop")
class StopSession(MethodView):
    @blp.response(200, SessionSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No such session of the driver's")
    @blp.alt_response(
        409, schema=ErrorSchema, description="Not charging any more, charger offline or refused"
    )
    @blp.alt_response(503, schema=ErrorSchema, description="The charger connection is unavailable")
    @blp.alt_response(504, schema=ErrorSchema, description="The charger did not answer in time")
    @allow(Role.DRIVER)
    def post(self, session_id):  # type: ignore[no-untyped-def]
        """Ask the charger to stop the driver's own session (unplugging ends it)."""
        c, s, me = container(), db(), principal().user_id
        commands.stop_session(s, c.charger_gateway, me, session_id)
        return vars(views.view(s, commands.own_session(s, me, session_id), c.clock()))


@staff_blp.route("/<int:operator_id>/sessions")
class OperatorSessions(MethodView):
    @staff_blp.arguments(StaffQuery, location="query")
    @staff_blp.response(200, StaffSessionSchema(many=True))
    @staff_blp.paginate(page_size=50, max_page_size=200)
    @allow(*STAFF_OR_ADMIN)
    def get(self, args, operator_id, pagination_parameters):  # type: ignore[no-untyped-def]
        """Charging sessions at the operator's own sites, newest first."""
        p = pagination_parameters
        items, p.item_count = views.operator_sessions(
            db(),
            operator_id,
            container().clock(),
            offset=p.first_item,
            limit=p.page_size,
            site_id=args["site_id"],
            active_only=args["active"],
        )
        return [vars(v) for v in items]
