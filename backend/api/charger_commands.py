"""Remote commands to a charger and its health history, for the operator's staff."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from backend.api.context import allow, container, db, principal
from backend.api.errors import ErrorSchema
from backend.api.operators import STAFF_OR_ADMIN, scope_operator_first
from backend.services import charge_points, charger_commands
from backend.services import charger_health_store as health

blp = Blueprint(
    "charger_commands",
    __name__,
    url_prefix="/operators",
    description="Remote commands to chargers, their health and automatic restarts",
)
scope_operator_first(blp)
CP = "/<int:operator_id>/charge-points/<int:charge_point_id>"


class CommandSchema(Schema):
    type = fields.String(
        required=True,
        validate=validate.OneOf(charger_commands.TYPES),
        metadata={"description": "reset | unlock | availability"},
    )
    mode = fields.String(
        load_default="soft",
        validate=validate.OneOf(["soft", "hard"]),
        metadata={"description": "reset: soft (stop sessions, restart) or hard (reboot)"},
    )
    connector_id = fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=32),
        metadata={"description": "unlock: the connector; availability: 0 = the whole charger"},
    )
    operative = fields.Boolean(metadata={"description": "availability: true = available"})


class CommandAnswerSchema(Schema):
    type = fields.String()
    status = fields.String(metadata={"description": "The charger's answer, e.g. Accepted"})
    accepted = fields.Boolean()
    data = fields.Dict()


class HealthActionSchema(Schema):
    id = fields.Integer()
    action = fields.String(
        metadata={
            "description": "fault, soft_reset, hard_reset, restart_failed, needs_attention, "
            "recovered, offline, online, unlock, availability"
        }
    )
    reason = fields.String()
    result = fields.String(metadata={"description": "The charger's answer or the outcome"})
    automatic = fields.Boolean(metadata={"description": "false: sent by a person"})
    user_id = fields.Integer(allow_none=True)
    at = fields.DateTime()


class ChargerHealthSchema(Schema):
    charge_point_id = fields.Integer()
    status = fields.String(metadata={"description": "online, offline, faulted, …"})
    last_seen_at = fields.DateTime(allow_none=True)
    state = fields.String(metadata={"description": "ok | faulted | needs_attention"})
    step = fields.String(metadata={"description": "The last automatic reset of this fault"})
    fault_since = fields.DateTime(allow_none=True)
    error_code = fields.String()
    resets_in_episode = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True)


@blp.route(CP + "/commands")
class Commands(MethodView):
    @blp.arguments(CommandSchema)
    @blp.response(200, CommandAnswerSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="The charger is offline")
    @blp.alt_response(502, schema=ErrorSchema, description="The charger answered with an error")
    @blp.alt_response(503, schema=ErrorSchema, description="No charger connection available")
    @blp.alt_response(504, schema=ErrorSchema, description="The charger did not answer in time")
    @allow(*STAFF_OR_ADMIN)
    def post(self, data, operator_id, charge_point_id):  # type: ignore[no-untyped-def]
        """Send a command to the charger and return its answer: `reset` (mode soft or
        hard), `unlock` (connector_id), `availability` (connector_id, operative)."""
        cmd = charger_commands.CommandIn(
            type=data["type"],
            hard=data.get("mode") == "hard",
            connector_id=data.get("connector_id"),
            operative=data.get("operative"),
        )
        c = container()
        out = charger_commands.send_command(
            db(), c.charger_gateway, operator_id, charge_point_id, cmd, principal().user_id, c.clock
        )
        return vars(out)


@blp.route(CP + "/health-actions")
class HealthActions(MethodView):
    @blp.response(200, HealthActionSchema(many=True))
    @blp.paginate()
    @allow(*STAFF_OR_ADMIN)
    def get(self, operator_id, charge_point_id, pagination_parameters):  # type: ignore[no-untyped-def]
        """The charger's health history, newest first: faults, automatic resets and their
        results, recoveries, offline spells, and commands sent by people."""
        cp = charge_points.get_charge_point(db(), operator_id, charge_point_id)
        p = pagination_parameters
        page, p.item_count = health.actions(db(), cp.id, offset=p.first_item, limit=p.page_size)
        return page


@blp.route(CP + "/health")
class Health(MethodView):
    @blp.response(200, ChargerHealthSchema)
    @allow(*STAFF_OR_ADMIN)
    def get(self, operator_id, charge_point_id):  # type: ignore[no-untyped-def]
        """Where the charger stands: connection status, and whether a fault is being
        handled by automatic restarts or needs a person (`needs_attention`)."""
        cp = charge_points.get_charge_point(db(), operator_id, charge_point_id)
        ladder = health.current(db(), cp.id)
        return {
            "charge_point_id": cp.id,
            "status": cp.status,
            "last_seen_at": cp.last_seen_at,
            **vars(ladder),
        }
