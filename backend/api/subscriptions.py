"""Paid plans: subscribe with the default card, cancel."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from backend.api.context import allow, container, db, principal
from backend.api.plans import MyPlanSchema, my_plan
from backend.db.models.enums import Role
from backend.services import subscriptions

blp = Blueprint("subscriptions", __name__, description="Paid plans (Stripe subscriptions)")


class SubscribeSchema(Schema):
    plan_code = fields.String(required=True, validate=validate.Length(min=1, max=40))


@blp.route("/me/plans/subscribe")
class Subscribe(MethodView):
    @blp.arguments(SubscribeSchema)
    @blp.response(201, MyPlanSchema)
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
        return my_plan(dp)


@blp.route("/me/plans/<int:driver_plan_id>")
class MyPlan(MethodView):
    @blp.response(200, MyPlanSchema)
    @allow(Role.DRIVER)
    def delete(self, driver_plan_id):  # type: ignore[no-untyped-def]
        """Cancel a plan. A paid plan runs to the end of the period already paid for
        (`ended_at`); an unpaid one, or the free plan, ends now."""
        c = container()
        dp = subscriptions.cancel(db(), c.payments, principal().user_id, driver_plan_id, c.clock())
        return my_plan(dp)
