"""Liveness and readiness for load balancers and the run command."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import text

from backend.api.context import db

blp = Blueprint("health", __name__, url_prefix="/health", description="Service health")


class HealthSchema(Schema):
    status = fields.String(required=True)
    database = fields.String(required=True)


@blp.route("")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    def get(self):  # type: ignore[no-untyped-def]
        """Is the API up and its database reachable? Anyone may call."""
        db().execute(text("SELECT 1"))
        return {"status": "ok", "database": "ok"}
