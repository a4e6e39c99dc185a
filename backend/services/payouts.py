"""Payouts: the money the platform sends an operator for a settlement whose direction is
"payout" (domain.md §2, settlement to operator; §5, Settlement).

Two ways, fixed when the payout is opened with its settlement:
- `stripe`: a Stripe Connect transfer to the operator's connected account, when real
  Stripe is configured (STRIPE_CONNECT_PAYOUTS) and the operator has an account.
  pending → paid | failed. Like payments, the attempt is committed before Stripe is
  asked, under an idempotency key; a transfer a crash left unrecorded is found at Stripe
  by that key before anything is sent again, so an operator is never paid twice.
- `bank`: a transfer platform staff make from the platform's bank account and confirm
  here with its reference. to_transfer → paid.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.db.models import Operator
from backend.db.models.settlements import Payout, Settlement
from backend.errors import Conflict, InvalidInput, NotFound
from backend.services.operators import get_operator
from backend.services.payment_gateway import PaymentError, PaymentProviderUnavailable
from backend.services.payout_gateway import PayoutGateway, TransferInfo
from backend.services.visibility import valid_id

log = logging.getLogger("wattpass.payouts")

STRIPE, BANK = "stripe", "bank"
PENDING, PAID, FAILED, TO_TRANSFER = "pending", "paid", "failed", "to_transfer"
ACCOUNT_ID = re.compile(r"^acct_[A-Za-z0-9]{1,60}$")
ACCOUNT_MAX = 64  # Operator.stripe_account_id (so at most 59 characters after acct_)
OUTAGE_NOTE = "Stripe could not be reached at the last attempt; it is retried automatically."
FAILURE_MAX = 300  # Payout.failure


def open_payout(
    s: Session, settlement: Settlement, operator: Operator, *, connect: bool
) -> Payout | None:
    """Add (flush, not commit) the payout of a settlement that pays the operator: its
    gross (net + VAT on top, B2B), by Stripe when `connect` and the operator has a
    connected account, else by bank transfer. None when the settlement pays nothing.
    Called inside the transaction that creates the settlement; opening twice returns
    the payout already there."""
    if settlement.direction != "payout" or settlement.gross_minor <= 0:
        return None
    if operator.id != settlement.operator_id:
        raise ValueError("the settlement belongs to another operator")
    existing = s.scalar(select(Payout).where(Payout.settlement_id == settlement.id))
    if existing is not None:
        return existing
    by_stripe = connect and bool(operator.stripe_account_id)
    payout = Payout(
        settlement_id=settlement.id,
        operator_id=operator.id,
        amount_minor=settlement.gross_minor,
        currency=settlement.currency,
        method=STRIPE if by_stripe else BANK,
        status=PENDING if by_stripe else TO_TRANSFER,
        destination=operator.stripe_account_id if by_stripe else "",
        idempotency_key=f"wp-payout-{settlement.id}",
        attempts=0,
    )
    s.add(payout)
    s.flush()
    return payout


def send(s: Session, gw: PayoutGateway, payout: Payout, now: datetime) -> Payout:
    """Send a pending Stripe payout. Paid on success; failed, with the reason in
    `failure`, when Stripe refuses; still pending when Stripe is unreachable (the
    periodic job retries it). Commits; never raises for provider problems."""
    # Lock, re-read and count the attempt, committed before Stripe hears of it: two
    # workers at once both reach Stripe with the same key, and Stripe makes one transfer.
    s.refresh(payout, with_for_update=True)
    if payout.method != STRIPE or payout.status != PENDING:
        s.commit()
        return payout
    payout.attempts += 1
    s.commit()
    # One Stripe transfer group per settlement.
    group, key = f"wp-settlement-{payout.settlement_id}", payout.idempotency_key
    try:
        # A transfer made before a crash is adopted, never made again.
        info = gw.find_transfer(group, key) or gw.transfer(
            payout.destination,
            payout.amount_minor,
            payout.currency,
            idempotency_key=key,
            transfer_group=group,
            metadata=_metadata(s, payout),
        )
    except PaymentProviderUnavailable:
        log.warning("payout %s: Stripe unavailable (attempt %s)", payout.id, payout.attempts)
        payout.failure = OUTAGE_NOTE
        s.commit()
        return payout
    except PaymentError as exc:
        return _fail(s, payout, exc.message)
    problem = _mismatch(payout, info)
    payout.provider_id = info.id
    if problem:
        return _fail(s, payout, problem)
    payout.status, payout.paid_at, payout.failure = PAID, now, ""
    s.commit()
    log.info("payout %s paid by Stripe transfer %s", payout.id, info.id)
    return payout


def send_pending(s: Session, gw: PayoutGateway | None, now: datetime, limit: int = 100) -> int:
    """The periodic job: send every pending Stripe payout (oldest first). Returns how
    many are paid now. Without a payout gateway (no Connect) there is nothing to do."""
    if gw is None:
        return 0
    ids = s.scalars(
        select(Payout.id)
        .where(Payout.method == STRIPE, Payout.status == PENDING)
        .order_by(Payout.id)
        .limit(limit)
    ).all()
    s.commit()  # no transaction held open across the calls to Stripe
    paid = 0
    for payout_id in ids:
        payout = s.get(Payout, payout_id)
        if payout is not None and send(s, gw, payout, now).status == PAID:
            paid += 1
    return paid


def confirm_bank_transfer(
    s: Session, payout_id: int, reference: str, user_id: int, now: datetime
) -> Payout:
    """A platform admin confirms the bank transfer was made, with its reference.
    Confirming again with the same reference changes nothing; with another one it is a
    conflict. A failed Stripe payout may be paid by bank instead and confirmed too."""
    ref = reference.strip()
    if not ref:
        raise InvalidInput(
            "Give the bank transfer's reference.", errors={"reference": ["Required."]}
        )
    payout = get_payout(s, payout_id, lock=True)
    if payout.status == PAID:
        if payout.method == BANK and payout.reference == ref:
            return payout
        how = (
            f"with reference {payout.reference}"
            if payout.method == BANK
            else f"by Stripe transfer {payout.provider_id}"
        )
        raise Conflict(f"This payout was already paid {how}.")
    if payout.status == PENDING:
        raise Conflict(
            "A Stripe transfer of this payout is under way; it cannot be paid by bank too."
        )
    payout.method, payout.status, payout.reference, payout.paid_at = BANK, PAID, ref, now
    s.commit()
    log.info("payout %s confirmed paid by bank transfer (user %s)", payout.id, user_id)
    return payout


def retry(s: Session, gw: PayoutGateway | None, payout_id: int, now: datetime) -> Payout:
    """Send a failed (or still pending) Stripe payout again, to the operator's connected
    account as it is now (e.g. after it was corrected). Stripe keeps a request's answer
    under its key for 24 hours, so a retry within them may get the same refusal."""
    payout = get_payout(s, payout_id, lock=True)
    if gw is None:
        raise Conflict(
            "Stripe Connect payouts are off (STRIPE_CONNECT_PAYOUTS); pay by bank "
            "transfer and confirm it."
        )
    if payout.method != STRIPE or payout.status not in (FAILED, PENDING):
        raise Conflict(
            f"Only a failed Stripe payout can be retried; this one is {payout.method}, "
            f"{payout.status}."
        )
    if payout.status == FAILED:
        account = s.get(Operator, payout.operator_id)
        if account is None or not account.stripe_account_id:
            raise Conflict(
                "The operator has no Stripe account: set its payout account first, or pay "
                "by bank transfer and confirm it."
            )
        payout.destination, payout.status, payout.failure = account.stripe_account_id, PENDING, ""
    s.commit()
    return send(s, gw, payout, now)


def get_payout(s: Session, payout_id: int, *, lock: bool = False) -> Payout:
    payout = s.get(Payout, payout_id, with_for_update=lock) if valid_id(payout_id) else None
    if payout is None:
        raise NotFound("No such payout.")
    return payout


def list_payouts(
    s: Session, operator_id: int, *, offset: int = 0, limit: int = 20
) -> tuple[list[tuple[Payout, Settlement]], int]:
    """A page of the operator's payouts with their settlements, newest first."""
    get_operator(s, operator_id)
    where = Payout.operator_id == operator_id
    total = s.scalar(select(func.count()).select_from(Payout).where(where)) or 0
    rows = s.execute(
        select(Payout, Settlement)
        .join(Settlement, Settlement.id == Payout.settlement_id)
        .where(where)
        .order_by(Payout.created_at.desc(), Payout.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return [(p, st) for p, st in rows], total


def set_payout_account(s: Session, operator_id: int, account_id: str) -> Operator:
    """The operator's Stripe connected account (acct_…), or "" for none. It applies to
    payouts opened from now on and to retries; a transfer under way keeps its own."""
    account_id = account_id.strip()
    if account_id and (len(account_id) > ACCOUNT_MAX or not ACCOUNT_ID.match(account_id)):
        raise InvalidInput(
            "A Stripe account id looks like acct_1A2b3C…",
            errors={"stripe_account_id": ["acct_ followed by letters and digits."]},
        )
    op = get_operator(s, operator_id, for_update=True)
    op.stripe_account_id = account_id
    s.commit()
    return op


def _metadata(s: Session, payout: Payout) -> dict[str, str]:
    st = s.get(Settlement, payout.settlement_id)
    return {
        "wattpass_payout_id": str(payout.id),
        "wattpass_operator_id": str(payout.operator_id),
        "settlement": st.number if st else str(payout.settlement_id),
        "period": st.period if st else "",
    }


def _mismatch(payout: Payout, info: TransferInfo) -> str:
    """What is wrong with the transfer found or made under this payout's key, if any."""
    if info.reversed:
        return (
            f"Stripe transfer {info.id} was reversed; pay the operator by bank transfer "
            "and confirm it."
        )
    if (info.amount_minor, info.currency) != (payout.amount_minor, payout.currency):
        return (
            f"Stripe transfer {info.id} is for {info.amount_minor} {info.currency} (minor "
            "units), not this payout's amount; check it at Stripe."
        )
    return ""


def _fail(s: Session, payout: Payout, reason: str) -> Payout:
    payout.status, payout.failure = FAILED, reason[:FAILURE_MAX]
    s.commit()
    log.warning("payout %s failed: %s", payout.id, payout.failure)
    return payout
