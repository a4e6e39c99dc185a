"""Firmware campaigns: an operator's staff schedule an update for a charger model and
follow it charger by charger."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from backend.api.context import allow, container, db, principal
from backend.api.operators import PLAIN_TEXT, STAFF_OR_ADMIN, scope_operator_first
from backend.services import firmware

blp = Blueprint(
    "firmware",
    __name__,
    url_prefix="/operators",
    description="Firmware campaigns: keeping chargers' software up to date",
)
scope_operator_first(blp)
STEPS = "pending, sent, downloading, downloaded, installing, installed, failed"


def _text(max_len: int, *, required: bool = False, description: str) -> fields.String:
    return fields.String(
        required=required,
        validate=[validate.Length(max=max_len), PLAIN_TEXT],
        metadata={"description": description},
    )


class CampaignCreateSchema(Schema):
    vendor = _text(50, description="Only chargers of this vendor (as reported at boot)")
    model = _text(50, required=True, description="The charger model, as reported at boot")
    firmware_version = _text(
        50, required=True, description="The version chargers report once updated"
    )
    location = _text(512, required=True, description="URL the chargers download it from")
    retrieve_at = fields.AwareDateTime(
        required=True, metadata={"description": "From when chargers may fetch and install it"}
    )
    max_retries = fields.Integer(
        load_default=2,
        strict=True,
        validate=validate.Range(min=0, max=firmware.MAX_RETRIES),
        metadata={"description": "Further attempts per charger after a failed one"},
    )


class CampaignSchema(Schema):
    id = fields.Integer()
    operator_id = fields.Integer()
    vendor = fields.String()
    model = fields.String()
    firmware_version = fields.String()
    location = fields.String()
    retrieve_at = fields.DateTime()
    max_retries = fields.Integer()
    created_at = fields.DateTime()
    state = fields.String(metadata={"description": "scheduled | running | completed"})
    chargers = fields.Integer()
    counts = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": STEPS}
    )


class JobSchema(Schema):
    id = fields.Integer()
    charge_point_id = fields.Integer()
    ocpp_identity = fields.String()
    status = fields.String(metadata={"description": STEPS})
    attempts = fields.Integer()
    max_attempts = fields.Integer()
    charger_status = fields.String(metadata={"description": "The charger's last word"})
    last_error = fields.String()
    version_before = fields.String()
    installed_version = fields.String()
    next_attempt_at = fields.DateTime(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime()


class CampaignReportSchema(CampaignSchema):
    jobs = fields.List(fields.Nested(JobSchema))


@blp.route("/<int:operator_id>/firmware-campaigns")
class Campaigns(MethodView):
    @blp.response(200, CampaignSchema(many=True))
    @blp.paginate()
    @allow(*STAFF_OR_ADMIN)
    def get(self, operator_id, pagination_parameters):  # type: ignore[no-untyped-def]
        """The operator's firmware campaigns, newest first, with how many chargers are at
        each step."""
        p = pagination_parameters
        page, p.item_count = firmware.list_campaigns(
            db(), operator_id, offset=p.first_item, limit=p.page_size
        )
        return firmware.summaries(db(), page, container().clock())

    @blp.arguments(CampaignCreateSchema)
    @blp.response(201, CampaignReportSchema)
    @allow(*STAFF_OR_ADMIN)
    def post(self, data, operator_id):  # type: ignore[no-untyped-def]
        """Schedule a firmware update for every charge point of the operator of this
        model (and vendor). Chargers get it from `retrieve_at` on; one offline then gets
        it when it connects. A failed attempt is retried up to `max_retries` times."""
        c = container()
        campaign = firmware.create_campaign(
            db(), operator_id, firmware.CampaignIn(**data), principal().user_id, c.clock()
        )
        return firmware.report(db(), campaign, c.clock())


@blp.route("/<int:operator_id>/firmware-campaigns/<int:campaign_id>")
class OneCampaign(MethodView):
    @blp.response(200, CampaignReportSchema)
    @allow(*STAFF_OR_ADMIN)
    def get(self, operator_id, campaign_id):  # type: ignore[no-untyped-def]
        """One campaign with each charger's step, attempts and the charger's last word."""
        campaign = firmware.get_campaign(db(), operator_id, campaign_id)
        return firmware.report(db(), campaign, container().clock())
