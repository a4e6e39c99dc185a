"""Driver plans: the catalogue of plans and the driver's own plan."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from backend.api.context import allow, container, db, principal
from backend.api.pricing_schemas import DriverPlanSchema, PlanChoiceSchema, PlanSchema
from backend.db.models.enums import Role
from backend.db.models.payments import PlanSubscription
from backend.db.models.pricing import DriverPlan, Plan
from backend.services import plans

blp = Blueprint("plans", __name__, description="Driver plans (pay-per-use and subscriptions)")


class PlanQuery(Schema):
    currency = fields.String(load_default=None)


class MyPlanSchema(DriverPlanSchema):
    """A driver's plan, free or paid, the same wherever it is answered: with the id that
    DELETE /me/plans/{id} cancels, and whether that was done already."""

    id = fields.Integer(
        metadata={"description": "the driver's plan (not the catalogue plan): DELETE it to cancel"}
    )
    status = fields.String(
        metadata={"description": "active, incomplete (first payment pending), past_due or ended"}
    )
    cancel_at_period_end = fields.Boolean(
        metadata={"description": "cancelled: a paid plan runs to `current_period_end`"}
    )
    current_period_end = fields.DateTime(
        allow_none=True, metadata={"description": "paid plans: the end of the period paid for"}
    )
    failure_message = fields.String(metadata={"description": "why a payment failed"})


def my_plan(row: DriverPlan) -> dict[str, object]:
    s = db()
    sub = s.scalar(select(PlanSubscription).where(PlanSubscription.driver_plan_id == row.id))
    return {
        "id": row.id,
        "plan": s.get(Plan, row.plan_id),
        "status": row.status,
        "started_at": row.started_at,
        "ended_at": row.ended_at,
        "cancel_at_period_end": bool(sub and sub.cancel_at_period_end),
        "current_period_end": sub.current_period_end if sub else None,
        "failure_message": sub.failure_message if sub else "",
    }


@blp.route("/plans")
class Plans(MethodView):
    @blp.arguments(PlanQuery, location="query")
    @blp.response(200, PlanSchema(many=True))
    def get(self, args):  # type: ignore[no-untyped-def]
        """Plans a driver can choose, cheapest first. Anyone may call."""
        return plans.list_plans(db(), args["currency"])

    @blp.arguments(PlanSchema)
    @blp.response(201, PlanSchema)
    @allow(Role.PLATFORM_ADMIN)
    def post(self, data):  # type: ignore[no-untyped-def]
        """Create a plan (platform pricing)."""
        return plans.create_plan(db(), **data)


@blp.route("/me/plans")
class MyPlans(MethodView):
    @blp.response(200, MyPlanSchema(many=True))
    @allow(Role.DRIVER)
    def get(self):  # type: ignore[no-untyped-def]
        """The driver's plans, current ones first; `id` is what DELETE /me/plans/{id}
        takes to cancel one."""
        rows = db().query(DriverPlan).filter(DriverPlan.driver_id == principal().user_id)
        return [my_plan(r) for r in rows.order_by(DriverPlan.started_at.desc())]

    @blp.arguments(PlanChoiceSchema)
    @blp.response(200, MyPlanSchema)
    @allow(Role.DRIVER)
    def post(self, data):  # type: ignore[no-untyped-def]
        """Activate a plan without a fee (pay-per-use) by accepting its terms; a plan
        already held is returned as it is. Paid plans are bought with a card."""
        row = plans.accept_free_plan(
            db(), principal().user_id, data["plan_code"], data["accept_terms"], container().clock()
        )
        return my_plan(row)
