"""Operator contracts: the business case and the platform's fee (domain.md §2 and §5).

Rules kept here:
- a PUB (public) contract pays the operator an agreed net price per kWh: that price is
  required, and a network fee (which settlement would ignore) is refused;
- every other case takes its fee as a share of net revenue, a fixed net amount per
  charge point per month and/or a net amount per kWh; an agreed price is refused;
- the hotel case (P2) invoices its guests itself unless told otherwise; the other cases
  cannot (the platform collects from drivers);
- one operator has at most one contract in force on any day, so settlement never has
  to choose: periods may not overlap (``valid_to`` is the last day, inclusive; none
  means open-ended).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from backend.db.models import OperatorContract, Settlement
from backend.db.models.enums import BusinessCase
from backend.errors import Conflict, InvalidInput, NotFound
from backend.services.operators import get_operator, invalid
from backend.services.visibility import valid_id
from shared import countries
from shared.money import exponent

# The NUMERIC(18, 6) columns hold 6 decimal places and 12 integer digits; more would be
# rounded silently by the database, so it is refused here instead.
DB_PLACES = 6
DB_LIMIT = Decimal(10) ** 12
MINOR_LIMIT = 2**31 - 1  # the fixed fee is an INTEGER column of minor units
_MAJOR_UNITS = re.compile(r"^[0-9]+(\.[0-9]+)?$")


def exact(
    value: Decimal,
    field_name: str,
    *,
    minimum: Decimal = Decimal(0),
    maximum: Decimal = DB_LIMIT,
    positive: bool = False,
    places: int = DB_PLACES,
) -> Decimal:
    """``value`` if it is a finite decimal in range with at most ``places`` places."""
    if not value.is_finite():
        raise invalid(field_name, "A finite number.")
    if value < minimum or (positive and value == minimum) or value > maximum:
        low = "greater than" if positive else "at least"
        raise invalid(field_name, f"Must be {low} {minimum} and at most {maximum}.")
    if int(value.as_tuple().exponent) < -places:
        raise invalid(field_name, f"At most {places} decimal places.")
    return value


def major_to_minor(text: str, currency: str, field_name: str) -> int:
    """An exact amount in major units ("30.00" PLN) as integer minor units (3000).

    More decimal places than the currency has is an error, never a rounding: a contract
    says what it says."""
    places = exponent(currency)
    if not _MAJOR_UNITS.match(text.strip()):
        raise invalid(field_name, f"An amount in {currency} like 30.00 (digits and a point).")
    try:
        amount = Decimal(text.strip())
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
        raise invalid(field_name, "Not a number.") from exc
    if int(amount.as_tuple().exponent) < -places:
        raise invalid(field_name, f"At most {places} decimal places for {currency}.")
    minor = int(amount.scaleb(places))
    if minor > MINOR_LIMIT:
        raise invalid(field_name, "This amount is too large.")
    return minor


def minor_to_major(minor: int, currency: str) -> str:
    places = exponent(currency)
    return f"{Decimal(minor).scaleb(-places):.{places}f}"


@dataclass(frozen=True)
class NewContract:
    business_case: BusinessCase
    valid_from: date
    valid_to: date | None = None
    currency: str | None = None  # the operator's country's currency when omitted
    fee_percent: Decimal = Decimal(0)
    fee_fixed_per_cp: str = "0"  # net, major units, per charge point per month
    fee_per_kwh_net: Decimal = Decimal(0)
    agreed_price_per_kwh_net: Decimal | None = None  # PUB only
    operator_invoices_users: bool | None = None  # default: True for P2 only


def _currency(requested: str | None, operator_country: str) -> str:
    if requested is None:
        home = countries.COUNTRIES.get(operator_country)
        if home is None:
            raise invalid("currency", "Required: the operator's country has no default.")
        return home.currency
    if requested not in countries.supported_currencies():
        allowed = ", ".join(countries.supported_currencies())
        raise invalid("currency", f"One of {allowed}.")
    return requested


def _check_case(new: NewContract, fee_minor: int) -> bool:
    """The case-specific rules; returns whether the operator invoices its users."""
    case = new.business_case
    if case == BusinessCase.PUB:
        if new.agreed_price_per_kwh_net is None:
            raise invalid("agreed_price_per_kwh_net", "Required for a public (PUB) contract.")
        if new.fee_percent or fee_minor or new.fee_per_kwh_net:
            raise InvalidInput(
                "A public (PUB) contract pays the agreed price per kWh and has no network fee.",
                errors={
                    k: ["Must be 0 for a PUB contract."]
                    for k, v in (
                        ("fee_percent", new.fee_percent),
                        ("fee_fixed_per_cp", fee_minor),
                        ("fee_per_kwh_net", new.fee_per_kwh_net),
                    )
                    if v
                },
            )
    elif new.agreed_price_per_kwh_net is not None:
        raise invalid(
            "agreed_price_per_kwh_net", "Only a public (PUB) contract has an agreed price."
        )
    invoices = new.operator_invoices_users
    if invoices is None:
        return case == BusinessCase.P2
    if invoices and case != BusinessCase.P2:
        raise invalid(
            "operator_invoices_users",
            "Only a hotel-type (P2) operator invoices its users; in the other cases "
            "drivers pay the platform.",
        )
    return invoices


def _overlapping(
    s: Session, operator_id: int, start: date, end: date | None
) -> list[OperatorContract]:
    query = select(OperatorContract).where(
        OperatorContract.operator_id == operator_id,
        or_(OperatorContract.valid_to.is_(None), OperatorContract.valid_to >= start),
    )
    if end is not None:
        query = query.where(OperatorContract.valid_from <= end)
    return list(s.scalars(query.order_by(OperatorContract.valid_from)).all())


def create_contract(
    s: Session, operator_id: int, new: NewContract, now: datetime
) -> OperatorContract:
    # Locking the operator serialises contract creation per operator, so two overlapping
    # contracts cannot both pass the check below.
    op = get_operator(s, operator_id, for_update=True)
    currency = _currency(new.currency, op.country)
    fee_percent = exact(new.fee_percent, "fee_percent", maximum=Decimal(100))
    fee_minor = major_to_minor(new.fee_fixed_per_cp, currency, "fee_fixed_per_cp")
    per_kwh = exact(new.fee_per_kwh_net, "fee_per_kwh_net")
    agreed = new.agreed_price_per_kwh_net
    if agreed is not None:
        agreed = exact(agreed, "agreed_price_per_kwh_net", positive=True)
    invoices = _check_case(new, fee_minor)
    if new.valid_to is not None and new.valid_to < new.valid_from:
        raise invalid("valid_to", "The last day cannot come before the first.")
    clash = _overlapping(s, operator_id, new.valid_from, new.valid_to)
    if clash:
        s.rollback()
        spans = "; ".join(f"#{c.id} {c.valid_from}–{c.valid_to or 'open-ended'}" for c in clash)
        raise Conflict(
            f"This period overlaps another contract of the operator ({spans}). "
            "End that contract first.",
            errors={"valid_from": [f"Overlaps {spans}."]},
        )
    contract = OperatorContract(
        operator_id=operator_id,
        business_case=new.business_case.value,
        currency=currency,
        fee_percent=fee_percent,
        fee_fixed_per_cp_minor=fee_minor,
        fee_per_kwh_net=per_kwh,
        agreed_price_per_kwh_net=agreed,
        operator_invoices_users=invoices,
        valid_from=new.valid_from,
        valid_to=new.valid_to,
        created_at=now,
    )
    s.add(contract)
    s.commit()
    return contract


def list_contracts(s: Session, operator_id: int) -> list[OperatorContract]:
    get_operator(s, operator_id)
    return list(
        s.scalars(
            select(OperatorContract)
            .where(OperatorContract.operator_id == operator_id)
            .order_by(OperatorContract.valid_from, OperatorContract.id)
        ).all()
    )


def for_period(s: Session, operator_id: int, first: date, last: date) -> OperatorContract | None:
    """The contract a settlement of the days `first`..`last` applies: the one in force
    on the last day, else the latest one that covered some of them (it ended early)."""
    found = _overlapping(s, operator_id, first, last)
    return found[-1] if found else None


def end_contract(
    s: Session, operator_id: int, contract_id: int, last_day: date
) -> OperatorContract:
    """End a contract on `last_day` (inclusive), e.g. to make room for new terms.

    A contract may be shortened, never lengthened (that could overlap the next one), and
    not into a month already settled: a settled period never changes (domain.md §5)."""
    get_operator(s, operator_id, for_update=True)  # serialised with create_contract
    c = s.get(OperatorContract, contract_id) if valid_id(contract_id) else None
    if c is None or c.operator_id != operator_id:
        s.rollback()
        raise NotFound("No such contract.")
    if last_day < c.valid_from:
        s.rollback()
        raise invalid("last_day", f"The contract starts on {c.valid_from}.")
    if c.valid_to is not None and last_day > c.valid_to:
        s.rollback()
        raise invalid("last_day", f"The contract already ends on {c.valid_to}.")
    settled = s.scalar(
        select(func.max(Settlement.period)).where(Settlement.operator_id == operator_id)
    )
    if settled is not None and last_day.strftime("%Y-%m") <= settled:
        s.rollback()
        raise Conflict(
            f"{settled} is already settled under this contract's terms; end it in a later month.",
            errors={"last_day": [f"After {settled}."]},
        )
    c.valid_to = last_day
    s.commit()
    return c
