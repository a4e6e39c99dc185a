"""Marshmallow schemas of the payment endpoints; money as decimal strings ("12.50")."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from backend.api.codes import PLAIN_TEXT
from backend.services import payment_state
from shared.money import Money


def money(minor: int, currency: str) -> str:
    return f"{Money(minor, currency).amount:.2f}"


class PaymentQuery(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(payment_state.STATUSES))
    kind = fields.String(load_default=None, validate=validate.OneOf(payment_state.KINDS))


class PaymentSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "hold, extra, monthly or plan"})
    status = fields.String()
    currency = fields.String()
    amount = fields.String(metadata={"description": "asked for (held, for a hold)"})
    captured = fields.String(metadata={"description": "taken from the card"})
    refunded = fields.String()
    session_ref = fields.Integer(allow_none=True)
    site_id = fields.Integer(allow_none=True)
    period = fields.String(allow_none=True)
    failure_code = fields.String()
    failure_message = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    client_secret = fields.String(
        allow_none=True,
        metadata={"description": "requires_authentication only: confirm it in the app"},
    )
    publishable_key = fields.String(allow_none=True)
    api_base = fields.String(allow_none=True)


class RefundInSchema(Schema):
    amount = fields.Decimal(
        required=True,
        validate=validate.Range(min=0, min_inclusive=False, error="Must be positive."),
        metadata={"description": 'in the payment\'s currency, e.g. "12.50"'},
    )
    reason = fields.String(required=True, validate=[validate.Length(min=1, max=300), PLAIN_TEXT])


class RefundSchema(Schema):
    id = fields.Integer()
    payment_id = fields.Integer()
    session_ref = fields.Integer(allow_none=True)
    amount = fields.String()
    currency = fields.String()
    reason = fields.String()
    status = fields.String()
    period = fields.String(metadata={"description": "settlement period it is carried into"})
    created_at = fields.DateTime()


class StaffPaymentSchema(PaymentSchema):
    driver_id = fields.Integer()
    refundable = fields.String()
    refunds = fields.List(fields.Nested(RefundSchema))


def payment_out(p: Any, **extra: Any) -> dict[str, Any]:
    return {
        "id": p.id,
        "kind": p.kind,
        "status": p.status,
        "currency": p.currency,
        "amount": money(p.amount_minor, p.currency),
        "captured": money(payment_state.collected(p), p.currency),
        "refunded": money(p.refunded_minor, p.currency),
        "session_ref": p.session_ref,
        "site_id": p.site_id,
        "period": p.period,
        "failure_code": p.failure_code,
        "failure_message": p.failure_message,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        **extra,
    }


def refund_out(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "payment_id": r.payment_id,
        "session_ref": r.session_ref,
        "amount": money(r.amount_minor, r.currency),
        "currency": r.currency,
        "reason": r.reason,
        "status": r.status,
        "period": r.period,
        "created_at": r.created_at,
    }
