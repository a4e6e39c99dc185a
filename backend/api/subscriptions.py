"""Paid plans: subscribe with the default card, cancel."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from backend.api.context import allow, container, db, principal
from backend.api.pricing_schemas import PlanSchema
from backend.db.models import DriverPlan, Plan
from backend.db.models.enums import Role
from backend.db.models.payments import PlanSubscription
from backend.services import subscriptions

blp = Blueprint("subscriptions", __name__, description="Paid plans (Stripe subscriptions)")


class SubscribeSchema(Schema):
    plan_code = fields.String(required=True, validate=validate.Length(min=1, max=40))


class SubscriptionSchema(Schema):
    id = fields.Integer(metadata={"description": "the driver's plan; DELETE it to cancel"})
    plan = fields.Nested(PlanSchema)
    status = fields.String(metadata={"description": "incomplete, active, past_due or ended"})
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    cancel_at_period_end = fields.Boolean()
    current_period_end = fields.DateTime(allow_none=True)
    failure_message = fields.String(metadata={"description": "why a payment failed"})


def _out(dp: DriverPlan) -> dict[str, object]:
    s = db()
    sub = s.scalar(select(PlanSubscription).where(PlanSubscription.driver_plan_id == dp.id))
    return {
        "id": dp.id,
        "plan": s.get(Plan, dp.plan_id),
        "status": dp.status,
        "started_at": dp.started_at,
        "ended_at": dp.ended_at,
        "cancel_at_period_end": bool(sub and sub.cancel_at_period_end),
        "current_period_end": sub.current_period_end if sub else None,
        "failure_message": sub.failure_message if sub else "",
    }


@blp.route("/me/plans/subscribe")
class Subscribe(MethodView):
    @blp.arguments(SubscribeSchema)
    @blp.response(201, SubscriptionSchema)
    @allow(Role.DRIVER)
    def post(self, data):  # type: ignore[no-untyped-def]
        """Subscribe to a paid plan; the first month is charged to the default card now.
        A declined card is 402 `card_declined`; a bank asking for 3-D Secure is 402
        `authentication_required` with the `client_secret` to confirm in the app (the
        plan starts once the payment succeeds). Subscribing again is harmless."""
        c = container()
        dp = subscriptions.subscribe(
            db(), c.payments, principal().user_id, data["plan_code"], c.clock()
        )
        return _out(dp)


@blp.route("/me/plans/<int:driver_plan_id>")
class MyPlan(MethodView):
    @blp.response(200, SubscriptionSchema)
    @allow(Role.DRIVER)
    def delete(self, driver_plan_id):  # type: ignore[no-untyped-def]
        """Cancel a plan. A paid plan runs to the end of the period already paid for
        (`ended_at`); an unpaid one, or the free plan, ends now."""
        c = container()
        dp = subscriptions.cancel(db(), c.payments, principal().user_id, driver_plan_id, c.clock())
        return _out(dp)
