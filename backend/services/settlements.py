"""Operator settlements (domain.md §2 and §5): once a month has ended everywhere, each
operator with a contract gets one settlement for it, in the contract's currency.

The arithmetic is shared.settlement's; what is counted is settlement_basis's. Here:
the rules around them. A period is settled once (a unique row per operator, period and
currency; asking again returns it unchanged) and in order (a period after one already
settled cannot be settled out of turn: its leftovers already went into the later one).
The settlement, its items and its payout are written in one transaction; the operator's
staff are told (SettlementReady) once, after it is committed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import Operator, OperatorContract
from backend.db.models.enums import BusinessCase as CaseName
from backend.db.models.settlements import Settlement
from backend.errors import Conflict, InvalidInput
from backend.services import billing_periods, contracts, settlement_basis
from backend.services.notification_events import SettlementReady
from backend.services.operators import get_operator
from backend.services.receipts_lines import format_number
from backend.services.receipts_numbering import lock_counter, take_next
from shared import countries
from shared.money import Money
from shared.settlement import BusinessCase, Contract, settle

log = logging.getLogger("wattpass.settlements")

SERIES = "ST"  # settlement documents: ST/2026/000001, gapless per year
PAYOUT, INVOICE, CARRIED, NONE = "payout", "invoice", "carried", "none"


def parse_period(period: str) -> tuple[date, date]:
    """The first and last day of a YYYY-MM period."""
    days = billing_periods.days_of(period)
    if days is None:
        raise InvalidInput(
            "A period is a month written YYYY-MM, like 2026-11.",
            errors={"period": ["Like 2026-11."]},
        )
    return days


@dataclass(frozen=True)
class Outcome:
    settlement: Settlement
    created: bool


def settle_period(
    s: Session,
    operator_id: int,
    period: str,
    now: datetime,
    *,
    connect_payouts: bool = False,
    user_id: int | None = None,
) -> Outcome:
    """The operator's settlement of `period`, made now if it was not made before."""
    first, last = parse_period(period)
    # One settlement of an operator at a time (PostgreSQL holds the row until commit):
    # a second one, of this period or another, then counts what the first took as taken.
    operator = get_operator(s, operator_id, for_update=True)
    contract = contracts.for_period(s, operator_id, first, last)
    if contract is None:
        raise Conflict(
            f"Operator {operator_id} had no contract in force in {period}: nothing to settle.",
        )
    done = _existing(s, operator_id, period, contract.currency)
    if done is not None:
        return Outcome(done, False)
    if period > billing_periods.period_due(now):
        raise Conflict(
            f"{period} has not ended in every time zone yet; sessions may still end in it.",
        )
    later = s.scalar(
        select(func.max(Settlement.period)).where(
            Settlement.operator_id == operator_id, Settlement.currency == contract.currency
        )
    )
    if later is not None and later > period:
        raise Conflict(
            f"{later} is already settled, and it took in what was left of {period}.",
        )
    try:
        row = _build(s, operator, contract, period, now, connect_payouts, user_id)
        s.commit()
    except IntegrityError as exc:
        # Another worker settled it (or took one of its items) first: theirs stands.
        s.rollback()
        done = _existing(s, operator_id, period, contract.currency)
        if done is None:
            raise Conflict(
                f"Another settlement of operator {operator_id} was being made at the same "
                "time and took some of what this one counted; ask again."
            ) from exc
        return Outcome(done, False)
    return Outcome(row, True)


def _existing(s: Session, operator_id: int, period: str, currency: str) -> Settlement | None:
    return s.scalar(
        select(Settlement).where(
            Settlement.operator_id == operator_id,
            Settlement.period == period,
            Settlement.currency == currency,
        )
    )


def _terms(c: OperatorContract, vat_rate: Decimal) -> Contract:
    return Contract(
        business_case=BusinessCase(c.business_case),
        currency=c.currency,
        vat_rate=vat_rate,
        fee_percent=c.fee_percent,
        fee_fixed_per_cp=Money(c.fee_fixed_per_cp_minor, c.currency),
        fee_per_kwh=c.fee_per_kwh_net,
        agreed_price_per_kwh=c.agreed_price_per_kwh_net,
    )


def _build(
    s: Session,
    operator: Operator,
    c: OperatorContract,
    period: str,
    now: datetime,
    connect_payouts: bool,
    user_id: int | None,
) -> Settlement:
    hotel = c.business_case == CaseName.P2.value
    basis = settlement_basis.gather(s, operator.id, period, c.currency, hotel)
    cps = settlement_basis.charge_points_under_contract(s, operator.id, period)
    # B2B: VAT of the operator's country, on top of the net (domain.md §5).
    vat_rate = countries.country(operator.country).vat_rate
    result = settle(
        _terms(c, vat_rate),
        session_nets=basis.session_nets,
        kwh=basis.kwh,
        charge_points=cps,
        refund_nets=basis.refund_nets,
        brought_forward=basis.brought_forward,
        collected_nets=basis.collected_nets,
        final=_last_of_contracts(s, c, period),
    )
    if result.payout is not None:
        split, direction = result.payout, PAYOUT if result.payout.net.minor else NONE
    elif result.invoice is not None:
        split, direction = result.invoice, INVOICE if result.invoice.net.minor else NONE
    else:
        split, direction = None, CARRIED
    carried = result.carried.minor if result.carried is not None else 0
    year = int(period[:4])
    seq = take_next(lock_counter(s, SERIES, year))
    row = Settlement(
        number=format_number(SERIES, year, seq),
        operator_id=operator.id,
        period=period,
        contract_id=c.id,
        business_case=c.business_case,
        currency=c.currency,
        vat_rate=vat_rate,
        terms=json.dumps(_terms_json(c), sort_keys=True),
        charge_points=cps,
        energy_kwh=basis.kwh,
        revenue_net_minor=result.revenue_net.minor,
        fee_net_minor=result.fee_net.minor,
        direction=direction,
        net_minor=split.net.minor if split else carried,
        vat_minor=split.vat.minor if split else 0,
        gross_minor=split.gross.minor if split else carried,
        lines=json.dumps(
            [{"description": x.description, "amount_minor": x.amount.minor} for x in result.lines]
        ),
        created_by=user_id,
        created_at=now,
    )
    s.add(row)
    s.flush()
    for item in basis.items:
        item.settlement_id = row.id
        s.add(item)
    s.flush()  # a unique source_key taken by a racing settlement fails here
    from backend.services import payouts  # the payout of this settlement, same transaction

    payouts.open_payout(s, row, operator, connect=connect_payouts)
    return row


def _last_of_contracts(s: Session, c: OperatorContract, period: str) -> bool:
    """Does the operator's last contract end within `period`? Then no settlement follows
    to carry a balance into: what the operator owes is invoiced now."""
    _, last = parse_period(period)
    if c.valid_to is None or c.valid_to > last:
        return False
    later = s.scalar(
        select(func.count(OperatorContract.id)).where(
            OperatorContract.operator_id == c.operator_id,
            OperatorContract.valid_from > c.valid_to,
        )
    )
    return not later


def _terms_json(c: OperatorContract) -> dict[str, Any]:
    return {
        "contract_id": c.id,
        "business_case": c.business_case,
        "fee_percent": str(c.fee_percent),
        "fee_fixed_per_cp": str(Money(c.fee_fixed_per_cp_minor, c.currency).amount),
        "fee_per_kwh_net": str(c.fee_per_kwh_net),
        "agreed_price_per_kwh_net": (
            str(c.agreed_price_per_kwh_net) if c.agreed_price_per_kwh_net is not None else None
        ),
        "valid_from": c.valid_from.isoformat(),
        "valid_to": c.valid_to.isoformat() if c.valid_to else None,
    }


def notify_ready(s: Session, notifications: Any, settlement: Settlement, now: datetime) -> bool:
    """Tell the operator's staff, once: the claim on `notified_at` is atomic, so two
    workers (or a retry after a crash) never send it twice. Never raises."""
    try:
        claimed = s.execute(
            update(Settlement)
            .where(Settlement.id == settlement.id, Settlement.notified_at.is_(None))
            .values(notified_at=now)
        ).rowcount
        s.commit()
        if not claimed:
            return False
        first, last = parse_period(settlement.period)
        amount = Money(settlement.gross_minor, settlement.currency)
        event = SettlementReady(settlement.id, first, last, amount)
        notifications.notify_operator_staff(s, settlement.operator_id, event)
        return True
    except Exception:  # a notice never undoes a settlement
        s.rollback()
        log.exception(
            "could not tell operator %s about settlement %s", settlement.operator_id, settlement.id
        )
        return False


def operators_to_settle(s: Session, period: str) -> list[int]:
    """Operators with a contract covering some day of `period`."""
    first, last = parse_period(period)
    ids = s.scalars(
        select(OperatorContract.operator_id)
        .where(
            OperatorContract.valid_from <= last,
            (OperatorContract.valid_to.is_(None)) | (OperatorContract.valid_to >= first),
        )
        .distinct()
        .order_by(OperatorContract.operator_id)
    ).all()
    return list(ids)


def settle_due(
    s: Session, notifications: Any, now: datetime, *, connect_payouts: bool = False
) -> list[Settlement]:
    """The periodic job: every operator's settlement of the month that has ended
    everywhere, made once; one operator's failure does not stop the others."""
    period = billing_periods.period_due(now)
    made: list[Settlement] = []
    for operator_id in operators_to_settle(s, period):
        try:
            outcome = settle_period(s, operator_id, period, now, connect_payouts=connect_payouts)
        except Conflict as exc:
            s.rollback()
            log.info("operator %s, %s: %s", operator_id, period, exc.message)
            continue
        except Exception:
            s.rollback()
            log.exception("could not settle operator %s for %s", operator_id, period)
            continue
        if outcome.created:
            made.append(outcome.settlement)
        if outcome.settlement.notified_at is None:
            notify_ready(s, notifications, outcome.settlement, now)
    return made
