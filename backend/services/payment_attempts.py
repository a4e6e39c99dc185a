"""The attempt machinery under every card payment: write ahead, call Stripe with the
key, record the answer; and reconciliation when an answer was lost.

Every step is: write what we are about to do (a row with its idempotency key) and
commit; call Stripe with that key; record the answer and commit. If the process dies or
the database fails between Stripe's answer and our commit, the next call finds the row
still saying what was being attempted and asks Stripe what became of it (by intent id,
or by the key in the intent's metadata when the id never reached us) instead of
charging again. Stripe honours the key too; localstripe ignores it, which is why this
does not rely on it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models.payments import Payment
from backend.errors import Conflict
from backend.services import cards
from backend.services import payment_state as st
from backend.services.payment_gateway import (
    AuthenticationRequired,
    CardDeclined,
    PaymentGateway,
    PaymentMethodRequired,
)


class PaymentAttempts:
    """Payments as attempts recorded before Stripe hears of them."""

    def __init__(self, gateway: PaymentGateway) -> None:
        self.gw = gateway

    def retry(self, s: Session, p: Payment) -> Payment:
        """Try a failed second payment or monthly charge again, on today's default card."""
        if p.kind not in {st.EXTRA, st.MONTHLY} or p.status != st.FAILED:
            raise Conflict("Only a failed payment can be tried again.")
        card = cards.default_card(s, p.driver_id)
        if card is None:
            raise PaymentMethodRequired()
        base = p.idempotency_key.rsplit("~", 1)[0]
        p.attempt += 1
        p.idempotency_key, p.status = f"{base}~{p.attempt}", st.PENDING
        p.stripe_payment_intent_id, p.payment_method_id = None, card.stripe_payment_method_id
        p.failure_code = p.failure_message = ""
        s.commit()
        self._create(s, p, manual_capture=False, description="Payment retried")
        return p

    # --- reconciliation ----------------------------------------------------------------------

    def reconcile(self, s: Session, p: Payment) -> Payment:
        """Re-read the payment's intent from Stripe (by id, or by idempotency key when the
        id never reached us) and move the row accordingly."""
        if p.stripe_payment_intent_id:
            info = self.gw.get_payment(p.stripe_payment_intent_id)
        else:
            cid = cards.customer_id(s, self.gw, p.driver_id)
            found = self.gw.find_payment(cid, p.idempotency_key)
            if found is None:
                return p  # never reached Stripe: still to be attempted
            info = found
        st.apply_intent(p, info)
        s.commit()
        return p

    def reconcile_intent(self, s: Session, intent_id: str) -> bool:
        """Webhook `payment_intent.*`: re-read and apply, if the intent is one of ours."""
        p = s.scalar(select(Payment).where(Payment.stripe_payment_intent_id == intent_id))
        if p is None:
            info = self.gw.get_payment(intent_id)
            key = info.metadata.get("wattpass_key")
            p = s.scalar(select(Payment).where(Payment.idempotency_key == key)) if key else None
            if p is None:
                return False
        self.reconcile(s, p)
        return True

    # --- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _find(s: Session, session_ref: int | None, kind: str) -> Payment | None:
        return s.scalar(
            select(Payment).where(Payment.session_ref == session_ref, Payment.kind == kind)
        )

    @staticmethod
    def _write_ahead(s: Session, p: Payment | None, *, key: str, **values: object) -> Payment:
        """Record the attempt (a new row, or a new attempt of a failed one) and commit
        before Stripe hears of it."""
        if p is None:
            p = Payment(
                idempotency_key=key,
                status=st.PENDING,
                attempt=1,
                captured_minor=0,
                refunded_minor=0,
                failure_code="",
                failure_message="",
                **values,
            )
            s.add(p)
        elif p.status == st.FAILED:
            p.attempt += 1
            p.idempotency_key = f"{key}~{p.attempt}"
            p.status, p.stripe_payment_intent_id = st.PENDING, None
            p.failure_code = p.failure_message = ""
            p.payment_method_id = values.get("payment_method_id")  # type: ignore[assignment]
        try:
            s.commit()
        except IntegrityError:
            # The same session/period being paid by a concurrent request: let it finish.
            s.rollback()
            raise Conflict("This payment is already under way; try again in a moment.") from None
        return p

    def _create(self, s: Session, p: Payment, *, manual_capture: bool, description: str) -> None:
        """Ask Stripe for the payment the row describes (callers have reconciled a row
        left pending by an earlier call first, so this never repeats a charge)."""
        assert p.payment_method_id is not None
        cid = cards.customer_id(s, self.gw, p.driver_id)
        try:
            info = self.gw.create_payment(
                customer_id=cid,
                payment_method_id=p.payment_method_id,
                amount=p.amount_minor,
                currency=p.currency,
                manual_capture=manual_capture,
                idempotency_key=p.idempotency_key,
                description=description,
                metadata={"wattpass_payment_id": str(p.id), "kind": p.kind},
            )
        except CardDeclined as exc:
            p.status, p.stripe_payment_intent_id = st.FAILED, exc.intent_id
            p.failure_code = (exc.decline_code or "card_declined")[:64]
            p.failure_message = exc.message[:300]
            s.commit()
            return
        # PaymentProviderUnavailable propagates: the row stays pending, found next time.
        st.apply_intent(p, info)
        s.commit()

    @staticmethod
    def _no_card(s: Session, p: Payment) -> Payment:
        p.status, p.failure_code = st.FAILED, "payment_method_required"
        p.failure_message = "Add a payment card in the app so we can take this payment."
        s.commit()
        return p

    def _auth_error(self, p: Payment) -> AuthenticationRequired:
        secret = None
        if p.stripe_payment_intent_id:
            secret = self.gw.get_payment(p.stripe_payment_intent_id).client_secret
        return AuthenticationRequired(
            intent_id=p.stripe_payment_intent_id,
            errors={
                "payment_id": p.id,
                "client_secret": secret,
                "publishable_key": self.gw.publishable_key,
                "api_base": self.gw.app_api_base,
            },
        )
