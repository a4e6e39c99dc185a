"""Stripe's webhooks: signed events about payments, cards and subscriptions."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from backend.api.context import container, db
from backend.api.errors import ErrorSchema
from backend.services import webhooks

blp = Blueprint("stripe_webhooks", __name__, description="Stripe webhook endpoint")


class WebhookAnswerSchema(Schema):
    received = fields.Boolean()
    result = fields.String(metadata={"description": "processed, ignored or duplicate"})


@blp.route("/stripe/webhooks")
class StripeWebhooks(MethodView):
    @blp.response(200, WebhookAnswerSchema)
    @blp.alt_response(400, schema=ErrorSchema, description="No or a wrong Stripe-Signature")
    def post(self):  # type: ignore[no-untyped-def]
        """Anyone may call: there is no login, but the body must carry a valid
        `Stripe-Signature` (STRIPE_WEBHOOK_SECRET), else 400. Each event is handled once;
        the object it names is re-read from Stripe before anything changes."""
        c = container()
        event = c.payments.parse_webhook(
            request.get_data(cache=False), request.headers.get("Stripe-Signature")
        )
        result = webhooks.handle(db(), c.payments, c.billing, event, c.clock(), c.notifications)
        if result == webhooks.PROCESSED and event.type.startswith("payment_intent."):
            webhooks.finish_session_billing(db(), c.session_billing, event.object_id, c.clock())
        return {"received": True, "result": result}
