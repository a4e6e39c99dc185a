"""Payments: the driver's own (and paying those that wait for 3-D Secure), and refunds
by the site's operator staff or a platform admin."""

from __future__ import annotations

from decimal import Decimal

from flask.views import MethodView
from flask_smorest import Blueprint

from backend.api.context import allow, container, db, principal
from backend.api.payment_schemas import (
    PaymentQuery,
    PaymentSchema,
    RefundInSchema,
    RefundSchema,
    StaffPaymentSchema,
    money,
    payment_out,
    refund_out,
)
from backend.db.models.enums import Role
from backend.errors import InvalidInput
from backend.services import payment_history, payment_refunds
from backend.services.payment_gateway import PaymentProviderUnavailable
from shared.money import Money

blp = Blueprint("payments", __name__, description="Card payments and refunds")


def _driver_view(d: payment_history.DriverPayment) -> dict[str, object]:
    gw = container().payments
    waiting = d.client_secret is not None
    return payment_out(
        d.payment,
        client_secret=d.client_secret,
        publishable_key=gw.publishable_key if waiting else None,
        api_base=gw.app_api_base if waiting else None,
    )


def _actor() -> payment_refunds.Actor:
    p = principal()
    return payment_refunds.Actor(p.user_id, p.role, p.operator_id)


@blp.route("/me/payments")
class MyPayments(MethodView):
    @blp.arguments(PaymentQuery, location="query")
    @blp.response(200, PaymentSchema(many=True))
    @allow(Role.DRIVER)
    def get(self, args):  # type: ignore[no-untyped-def]
        """The driver's payments, newest first. `status=requires_authentication` lists
        those the bank wants confirmed: each carries the `client_secret` (with the
        publishable key and api_base) the app confirms it with."""
        c = container()
        rows = payment_history.list_payments(
            db(),
            c.billing,
            principal().user_id,
            args["status"],
            args["kind"],
            notifications=c.notifications,
            now=c.clock(),
        )
        return [_driver_view(d) for d in rows]


@blp.route("/me/payments/<int:payment_id>")
class MyPayment(MethodView):
    @blp.response(200, PaymentSchema)
    @allow(Role.DRIVER)
    def get(self, payment_id):  # type: ignore[no-untyped-def]
        """One of the driver's payments, re-read from Stripe while it is in flight."""
        c = container()
        return _driver_view(
            payment_history.get_payment(
                db(),
                c.billing,
                principal().user_id,
                payment_id,
                notifications=c.notifications,
                now=c.clock(),
            )
        )


@blp.route("/me/payments/<int:payment_id>/retry")
class RetryPayment(MethodView):
    @blp.response(200, PaymentSchema)
    @allow(Role.DRIVER)
    def post(self, payment_id):  # type: ignore[no-untyped-def]
        """Pay a failed session payment, session balance or monthly charge again, with
        the default card (add or choose another card first).
        A bank that wants it confirmed: `requires_authentication` with the `client_secret`
        (and publishable key, api_base) to confirm it with."""
        c = container()
        retried = payment_history.retry(
            db(),
            c.billing,
            principal().user_id,
            payment_id,
            notifications=c.notifications,
            now=c.clock(),
            session_billing=c.session_billing,
        )
        return _driver_view(retried)


@blp.route("/payments/<int:payment_id>")
class StaffPayment(MethodView):
    @blp.response(200, StaffPaymentSchema)
    @allow(Role.OPERATOR_STAFF, Role.PLATFORM_ADMIN)
    def get(self, payment_id):  # type: ignore[no-untyped-def]
        """A payment at one of the caller's sites (admins: any), with its refunds."""
        s = db()
        p = payment_refunds.visible_payment(s, _actor(), payment_id)
        try:
            payment_refunds.finish_pending(s, container().payments, p)
        except PaymentProviderUnavailable:
            s.rollback()  # shown as pending; finished on the next look or refund
        return payment_out(
            p,
            driver_id=p.driver_id,
            refundable=money(payment_refunds.refundable_minor(s, p), p.currency),
            refunds=[refund_out(r) for r in payment_refunds.refunds_of(s, p.id)],
        )


@blp.route("/payments/<int:payment_id>/refunds")
class Refunds(MethodView):
    @blp.arguments(RefundInSchema)
    @blp.response(201, RefundSchema)
    @allow(Role.OPERATOR_STAFF, Role.PLATFORM_ADMIN)
    def post(self, data, payment_id):  # type: ignore[no-untyped-def]
        """Refund all or part of a collected payment (a session's capture, its second
        payment, a monthly charge). More than is left to refund is refused (422). The
        refund lowers the settlement of the period it is made in."""
        s, c = db(), container()
        p = payment_refunds.visible_payment(s, _actor(), payment_id)
        amount: Decimal = data["amount"]
        if amount != amount.quantize(Decimal("0.01")):
            raise InvalidInput(
                "Give the amount to the grosz/øre.", errors={"amount": ["2 decimals."]}
            )
        r = payment_refunds.refund(
            s,
            c.payments,
            _actor(),
            payment_id,
            Money.of(amount, p.currency),
            data["reason"],
            c.clock(),
        )
        return refund_out(r)
