"""A driver's saved cards: set one up in the app, list, choose the default, remove."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from backend.api.context import allow, container, db, principal
from backend.db.models.enums import Role
from backend.services import cards

blp = Blueprint("cards", __name__, url_prefix="/me/cards", description="A driver's saved cards")


class CardSchema(Schema):
    id = fields.Integer()
    brand = fields.String()
    last4 = fields.String()
    exp_month = fields.Integer()
    exp_year = fields.Integer()
    is_default = fields.Boolean()
    created_at = fields.DateTime()


class SetupIntentSchema(Schema):
    setup_intent_id = fields.String()
    client_secret = fields.String(
        metadata={"description": "Confirm the SetupIntent with this and the card details"}
    )
    publishable_key = fields.String()
    api_base = fields.String(
        allow_none=True,
        metadata={"description": "Where to send the card (localstripe); null = Stripe's own"},
    )


@blp.route("")
class Cards(MethodView):
    @blp.response(200, CardSchema(many=True))
    @allow(Role.DRIVER)
    def get(self):  # type: ignore[no-untyped-def]
        """The driver's cards, default first, as Stripe knows them now (a card saved a
        moment ago appears even if Stripe's webhook has not arrived yet)."""
        c = container()
        return cards.list_cards(db(), c.payments, principal().user_id, c.clock())


@blp.route("/setup-intent")
class CardSetup(MethodView):
    @blp.response(201, SetupIntentSchema)
    @allow(Role.DRIVER)
    def post(self):  # type: ignore[no-untyped-def]
        """Start saving a card. The app confirms the returned SetupIntent at Stripe with
        the publishable key and the card details; card numbers never reach this API."""
        return cards.start_setup(db(), container().payments, principal().user_id)


@blp.route("/sync")
class CardSync(MethodView):
    @blp.response(200, CardSchema(many=True))
    @allow(Role.DRIVER)
    def post(self):  # type: ignore[no-untyped-def]
        """Re-read the driver's cards from Stripe now (after confirming a SetupIntent)."""
        c = container()
        return cards.sync_cards(db(), c.payments, principal().user_id, c.clock())


@blp.route("/<int:card_id>/default")
class DefaultCard(MethodView):
    @blp.response(200, CardSchema)
    @allow(Role.DRIVER)
    def post(self, card_id):  # type: ignore[no-untyped-def]
        """Pay with this card from now on (sessions, monthly charges, plan renewals)."""
        return cards.set_default(db(), container().payments, principal().user_id, card_id)


@blp.route("/<int:card_id>")
class Card(MethodView):
    @blp.response(204)
    @allow(Role.DRIVER)
    def delete(self, card_id):  # type: ignore[no-untyped-def]
        """Remove the card (detached at Stripe). Another card becomes the default."""
        c = container()
        cards.remove_card(db(), c.payments, principal().user_id, card_id, c.clock())
