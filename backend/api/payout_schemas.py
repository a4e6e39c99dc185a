"""Marshmallow schemas of the payout endpoints; money as decimal strings ("170.99")."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from backend.api.codes import PLAIN_TEXT
from backend.services.payouts import ACCOUNT_ID, ACCOUNT_MAX
from backend.services.settlement_views import payout_view


class PayoutSchema(Schema):
    id = fields.Integer()
    operator_id = fields.Integer()
    settlement_id = fields.Integer()
    period = fields.String(metadata={"description": "the settled month, YYYY-MM"})
    number = fields.String(metadata={"description": "the settlement's document number"})
    amount = fields.String(metadata={"description": 'gross: net + VAT, e.g. "170.99"'})
    currency = fields.String()
    method = fields.String(metadata={"description": "stripe (Connect transfer) or bank"})
    status = fields.String(
        metadata={"description": "stripe: pending, paid, failed; bank: to_transfer, paid"}
    )
    reference = fields.String(metadata={"description": "the bank transfer's reference"})
    failure = fields.String(metadata={"description": "why it failed or waits, in words"})
    paid_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class ConfirmSchema(Schema):
    reference = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=120), PLAIN_TEXT],
        metadata={"description": "the bank transfer's reference (title or bank id)"},
    )


class PayoutAccountSchema(Schema):
    stripe_account_id = fields.String(
        required=True,
        validate=[
            validate.Regexp(
                rf"{ACCOUNT_ID.pattern}|^$", error='acct_ followed by letters and digits, or "".'
            ),
            validate.Length(max=ACCOUNT_MAX),
        ],
        metadata={"description": 'the operator\'s Stripe connected account, or "" for none'},
    )


class PayoutAccountOutSchema(PayoutAccountSchema):
    operator_id = fields.Integer()


# One view of a payout, shared with the settlement endpoints.
payout_out = payout_view
