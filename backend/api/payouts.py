"""Payouts to operators: their list (the operator's staff and platform admins), and
what only platform admins do: confirm a bank transfer, retry a failed Stripe transfer,
set the operator's Stripe connected account."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from backend.api.context import allow, container, db, principal
from backend.api.payout_schemas import (
    ConfirmSchema,
    PayoutAccountOutSchema,
    PayoutAccountSchema,
    PayoutSchema,
    payout_out,
)
from backend.db.models.enums import Role
from backend.db.models.settlements import Settlement
from backend.services import payouts

blp = Blueprint("payouts", __name__, description="Payouts of settlements to operators")


def _one(payout_id: int) -> dict[str, object]:
    p = payouts.get_payout(db(), payout_id)
    return payout_out(p, db().get(Settlement, p.settlement_id))


@blp.route("/operators/<int:operator_id>/payouts")
class OperatorPayouts(MethodView):
    @blp.response(200, PayoutSchema(many=True))
    @blp.paginate()
    @allow(Role.OPERATOR_STAFF, Role.PLATFORM_ADMIN)
    def get(self, operator_id, pagination_parameters):  # type: ignore[no-untyped-def]
        """The operator's payouts, newest first: the settlement paid, the amount (gross),
        how (Stripe transfer or bank transfer), its status and, if it failed, why."""
        p = pagination_parameters
        rows, p.item_count = payouts.list_payouts(
            db(), operator_id, offset=p.first_item, limit=p.page_size
        )
        return [payout_out(payout, st) for payout, st in rows]


@blp.route("/admin/payouts/<int:payout_id>/confirm")
class ConfirmPayout(MethodView):
    @blp.arguments(ConfirmSchema)
    @blp.response(200, PayoutSchema)
    @allow(Role.PLATFORM_ADMIN)
    def post(self, data, payout_id):  # type: ignore[no-untyped-def]
        """Confirm a bank payout was made, with the transfer's reference. The same
        reference again changes nothing; another one is 409. A failed Stripe payout may
        be paid by bank and confirmed this way too."""
        c = container()
        payouts.confirm_bank_transfer(
            db(), payout_id, data["reference"], principal().user_id, c.clock()
        )
        return _one(payout_id)


@blp.route("/admin/payouts/<int:payout_id>/retry")
class RetryPayout(MethodView):
    @blp.response(200, PayoutSchema)
    @allow(Role.PLATFORM_ADMIN)
    def post(self, payout_id):  # type: ignore[no-untyped-def]
        """Send a failed Stripe payout again, to the operator's account as it is now.
        The answer shows the outcome: paid, failed (with why), or pending when Stripe
        is unreachable (retried automatically)."""
        c = container()
        payouts.retry(db(), c.payouts, payout_id, c.clock())
        return _one(payout_id)


@blp.route("/admin/operators/<int:operator_id>/payout-account")
class PayoutAccount(MethodView):
    @blp.arguments(PayoutAccountSchema)
    @blp.response(200, PayoutAccountOutSchema)
    @allow(Role.PLATFORM_ADMIN)
    def put(self, data, operator_id):  # type: ignore[no-untyped-def]
        """Set the operator's Stripe connected account (acct_…) its payouts are
        transferred to, or "" for none (bank transfers). Payouts opened from now on and
        retries use it."""
        op = payouts.set_payout_account(db(), operator_id, data["stripe_account_id"])
        return {"operator_id": op.id, "stripe_account_id": op.stripe_account_id}
