"""Charge points and connectors as an operator's staff manage them.

The OCPP Basic-auth password is drawn by the platform and appears in exactly two answers:
the registration (201) and a rotation. Only its argon2 hash is stored.
"""

from __future__ import annotations

from decimal import Decimal

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from backend.api.context import allow, container, db
from backend.api.contracts import plain
from backend.api.operators import STAFF_OR_ADMIN, scope_operator_first
from backend.db.models import ChargePoint
from backend.db.models.enums import PlugType
from backend.services import charge_points as cps
from backend.services import sites

blp = Blueprint(
    "charge_points_admin",
    __name__,
    url_prefix="/operators",
    description="Charge points and connectors, operator side",
)
scope_operator_first(blp)


class ManagedConnectorInSchema(Schema):
    connector_id = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=cps.MAX_CONNECTORS)
    )
    plug_type = fields.String(required=True, validate=validate.OneOf([p.value for p in PlugType]))
    max_power_kw = fields.Decimal(
        required=True, metadata={"description": "kW, e.g. 22 or 7.4; stored as whole watts"}
    )


class ManagedChargePointFields(Schema):
    ocpp_identity = fields.String(
        validate=validate.Length(min=1, max=48),
        metadata={"description": "The charger's id in its OCPP URL: letters, digits, - _ ."},
    )
    vendor = fields.String(validate=validate.Length(max=50))
    model = fields.String(validate=validate.Length(max=50))
    serial_number = fields.String(validate=validate.Length(max=50))
    commissioned = fields.Boolean(
        metadata={"description": "Installed and tested: only then drivers see it"}
    )


class ManagedChargePointCreateSchema(ManagedChargePointFields):
    ocpp_identity = fields.String(required=True, validate=validate.Length(min=1, max=48))
    connectors = fields.List(fields.Nested(ManagedConnectorInSchema), required=True)


class ManagedChargePointPatchSchema(ManagedChargePointFields):
    connectors = fields.List(
        fields.Nested(ManagedConnectorInSchema),
        metadata={"description": "Adds connectors or changes existing ones by connector_id"},
    )


class ManagedConnectorSchema(Schema):
    connector_id = fields.Integer()
    plug_type = fields.String()
    max_power_kw = fields.String()
    max_power_w = fields.Integer()
    status = fields.String(metadata={"description": "Last OCPP status reported"})
    status_at = fields.DateTime(allow_none=True)


class ManagedChargePointSchema(ManagedChargePointFields):
    id = fields.Integer()
    site_id = fields.Integer()
    firmware_version = fields.String()
    ocpp_version = fields.String()
    status = fields.String()
    last_seen_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    connectors = fields.List(fields.Nested(ManagedConnectorSchema))


class ManagedChargePointWithPasswordSchema(ManagedChargePointSchema):
    ocpp_password = fields.String(
        metadata={"description": "OCPP Basic-auth password: shown only now, never again"}
    )


def _out(cp: ChargePoint) -> dict[str, object]:
    return {
        "id": cp.id,
        "site_id": cp.site_id,
        "ocpp_identity": cp.ocpp_identity,
        "vendor": cp.vendor,
        "model": cp.model,
        "serial_number": cp.serial_number,
        "commissioned": cp.commissioned,
        "firmware_version": cp.firmware_version,
        "ocpp_version": cp.ocpp_version,
        "status": cp.status,
        "last_seen_at": cp.last_seen_at,
        "created_at": cp.created_at,
        "connectors": [
            {
                "connector_id": c.connector_id,
                "plug_type": c.plug_type,
                "max_power_kw": plain(Decimal(c.max_power_w) / 1000),
                "max_power_w": c.max_power_w,
                "status": c.status,
                "status_at": c.status_at,
            }
            for c in sorted(cp.connectors, key=lambda c: c.connector_id)
        ],
    }


def _with_password(result: cps.WithPassword) -> dict[str, object]:
    return {**_out(result.charge_point), "ocpp_password": result.password}


def _specs(data: dict[str, object]) -> list[cps.ConnectorSpec] | None:
    raw = data.pop("connectors", None)
    if raw is None:
        return None
    return [cps.ConnectorSpec(**c) for c in raw]  # type: ignore[attr-defined]


@blp.route("/<int:operator_id>/sites/<int:site_id>/charge-points")
class SiteChargePoints(MethodView):
    @blp.response(200, ManagedChargePointSchema(many=True))
    @blp.paginate()
    @allow(*STAFF_OR_ADMIN)
    def get(self, operator_id, site_id, pagination_parameters):  # type: ignore[no-untyped-def]
        """The site's charge points by OCPP identity, with live status of each connector."""
        site = sites.get_site(db(), operator_id, site_id)
        p = pagination_parameters
        page, p.item_count = cps.list_charge_points(
            db(), site, offset=p.first_item, limit=p.page_size
        )
        return [_out(cp) for cp in page]

    @blp.arguments(ManagedChargePointCreateSchema)
    @blp.response(201, ManagedChargePointWithPasswordSchema)
    @allow(*STAFF_OR_ADMIN)
    def post(self, data, operator_id, site_id):  # type: ignore[no-untyped-def]
        """Register a charge point with its connectors. The OCPP identity is unique
        platform-wide (409). The answer holds the charger's OCPP password, this once.
        A new charge point is hidden from drivers until `commissioned` is true."""
        site = sites.get_site(db(), operator_id, site_id)
        specs = _specs(data) or []
        created = cps.create_charge_point(db(), site, data, specs, container().clock())
        return _with_password(created)


@blp.route("/<int:operator_id>/charge-points/<int:charge_point_id>")
class OneChargePoint(MethodView):
    @blp.response(200, ManagedChargePointSchema)
    @allow(*STAFF_OR_ADMIN)
    def get(self, operator_id, charge_point_id):  # type: ignore[no-untyped-def]
        """One charge point of the operator: firmware, status, last contact, connectors."""
        return _out(cps.get_charge_point(db(), operator_id, charge_point_id))

    # Not partial=True: marshmallow passes it on to the nested connectors, which then
    # loaded without connector_id (a 500). No top-level field is required anyway.
    @blp.arguments(ManagedChargePointPatchSchema())
    @blp.response(200, ManagedChargePointSchema)
    @allow(*STAFF_OR_ADMIN)
    def patch(self, data, operator_id, charge_point_id):  # type: ignore[no-untyped-def]
        """Change a charge point's details, commission it, or add and change connectors
        (a connector not listed stays as it is)."""
        specs = _specs(data)
        return _out(cps.update_charge_point(db(), operator_id, charge_point_id, data, specs))


@blp.route("/<int:operator_id>/charge-points/<int:charge_point_id>/rotate-password")
class RotatePassword(MethodView):
    @blp.response(200, ManagedChargePointWithPasswordSchema)
    @allow(*STAFF_OR_ADMIN)
    def post(self, operator_id, charge_point_id):  # type: ignore[no-untyped-def]
        """Draw a new OCPP password (shown only in this answer); the old one stops working,
        so enter the new one into the charger right away."""
        return _with_password(cps.rotate_password(db(), operator_id, charge_point_id))
