"""The state machine of a `Payment` row, driven by what the processor says.

Rows move only on facts read from Stripe (an answer, a re-read, a webhook's object
re-read), so applying the same fact twice, or an older fact after a newer one, leaves
the row where it is. Amounts are integer minor units.

    hold:    pending → authorized → capturing → captured
                                  → releasing → released
                                  → capturing → expired (the authorization lapsed)
             pending → requires_authentication → authorized | failed
             pending → failed
    extra, monthly, plan:
             pending → succeeded | requires_authentication | failed | canceled
"""

from __future__ import annotations

from backend.db.models.payments import Payment
from backend.services.payment_gateway import IntentInfo

HOLD, EXTRA, MONTHLY, PLAN = "hold", "extra", "monthly", "plan"
KINDS = (HOLD, EXTRA, MONTHLY, PLAN)

PENDING = "pending"
AUTHORIZED = "authorized"
CAPTURING = "capturing"
CAPTURED = "captured"
RELEASING = "releasing"
RELEASED = "released"
EXPIRED = "expired"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELED = "canceled"
REQUIRES_AUTH = "requires_authentication"
NOTHING_DUE = "nothing_due"

#: Nothing more will happen to the row (a failed one may be retried as a new attempt).
FINAL = {CAPTURED, RELEASED, EXPIRED, SUCCEEDED, CANCELED, NOTHING_DUE}
#: Money was taken and may be refunded.
COLLECTED = {CAPTURED, SUCCEEDED}
STATUSES = (
    PENDING,
    AUTHORIZED,
    CAPTURING,
    CAPTURED,
    RELEASING,
    RELEASED,
    EXPIRED,
    SUCCEEDED,
    FAILED,
    CANCELED,
    REQUIRES_AUTH,
    NOTHING_DUE,
)

AUTH_MESSAGE = "Your bank asks you to confirm this payment in the app."
DECLINED = "Your card was declined. Use another card or contact your bank."


def capture_target(p: Payment) -> int:
    """What a hold's capture takes: the final amount, at most what was held."""
    return min(p.final_amount_minor or 0, p.amount_minor)


def apply_intent(p: Payment, info: IntentInfo) -> None:
    """Move `p` to the state the processor's intent shows."""
    if p.stripe_payment_intent_id not in (None, info.id):
        raise ValueError(f"payment {p.id} belongs to {p.stripe_payment_intent_id}, not {info.id}")
    p.stripe_payment_intent_id = info.id
    if info.payment_method_id:
        p.payment_method_id = info.payment_method_id
    status = info.status
    if status == "requires_payment_method" and info.failure_code == "authentication_required":
        # Stripe's refusal of an off-session payment that needs 3-D Secure: the intent
        # waits for the cardholder to confirm it with its client secret.
        status = "requires_action"
    if p.kind == HOLD:
        _hold(p, status, info)
    else:
        _charge(p, status, info)


def _fail(p: Payment, info: IntentInfo) -> None:
    p.status = FAILED
    p.failure_code = (info.failure_code or "declined")[:64]
    p.failure_message = (info.failure_message or DECLINED)[:300]


def _needs_auth(p: Payment) -> None:
    p.status = REQUIRES_AUTH
    p.failure_code, p.failure_message = "authentication_required", AUTH_MESSAGE


def _clear(p: Payment) -> None:
    p.failure_code, p.failure_message = "", ""


def _hold(p: Payment, status: str, info: IntentInfo) -> None:
    if p.status in FINAL:
        return  # a late or repeated fact changes nothing
    if status == "requires_capture":
        if p.status in {PENDING, REQUIRES_AUTH, FAILED, AUTHORIZED}:
            p.status = AUTHORIZED
            _clear(p)
        # capturing/releasing: the call is still to be made; stay.
    elif status == "succeeded":
        p.status = CAPTURED
        p.captured_minor = capture_target(p) if p.final_amount_minor is not None else info.amount
        _clear(p)
    elif status == "canceled":
        # Released because we asked, or else the authorization lapsed (a Visa hold made
        # without the cardholder lasts ~4–5 days) or was voided elsewhere: nothing held.
        p.status = RELEASED if p.status == RELEASING else EXPIRED
    elif status in {"requires_action", "requires_confirmation"}:
        if p.status in {PENDING, REQUIRES_AUTH}:
            _needs_auth(p)
    elif status == "requires_payment_method" and p.status in {PENDING, REQUIRES_AUTH}:
        _fail(p, info)
    # processing: stay as we are


def _charge(p: Payment, status: str, info: IntentInfo) -> None:
    if p.status in FINAL:
        return
    if status == "succeeded":
        p.status = SUCCEEDED
        p.captured_minor = info.amount
        _clear(p)
    elif status in {"requires_action", "requires_confirmation"}:
        _needs_auth(p)
    elif status == "requires_payment_method":
        _fail(p, info)
    elif status == "canceled":
        p.status = CANCELED
    # processing / requires_capture: stay pending


def collected(p: Payment) -> int:
    """Minor units actually taken from the card (before refunds)."""
    return p.captured_minor if p.status in COLLECTED else 0
