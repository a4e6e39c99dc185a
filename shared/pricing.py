"""Pricing a charging session: the three models of seed 001 plus platform plans (seed 000).

Driver prices are gross (VAT included, domain.md §5). A session is priced with the
price version in force when it started. Every result carries its explanation: the
inputs it was priced from (meter readings, moments, the price version, the plan) and the
amounts, from which `lines`, `inputs` and `explain()` give the document lines
(energy kWh × price, billable idle minutes × price) and the reasons.

The amounts are computed once, exactly, on integers (minor units, Wh, microseconds);
the explanation objects are built from the same stored facts when asked for, so pricing
a million sessions does not build a million receipts nobody reads.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from math import gcd
from typing import Final

from shared.money import MoneyError, exponent, ratio
from shared.priced_session import PricedSession, PriceLine
from shared.pricing_inputs import (
    KWH,
    Plan,
    PriceVersion,
    PricingError,
    PricingModel,
    Usage,
)

__all__ = [
    "KWH",
    "Plan",
    "PriceHistory",
    "PriceLine",
    "PriceVersion",
    "PricedSession",
    "PricingError",
    "PricingModel",
    "Usage",
    "price_session",
    "price_sessions",
    "version_in_force",
]

_PREPARED_MAX: Final = 4096


# A version's prices as integer fractions, worked out once per version object. A plain
# tuple, not a NamedTuple: unpacking a tuple subclass takes the slow path in CPython.
#   (version, kind (_FIXED, _IDLE, _PLAN, _VARIABLE),
#    energy_num2, energy_den, energy_den2,   energy minor units = (Wh × n2 + d) // d2
#    idle_num2, idle_den, idle_den2,         idle minor units = (minutes × n2 + d) // d2
#    vat_den2, vat_sum, vat_sum2,            net = (gross × 2d + (d + n)) // 2(d + n)
#    grace, count_minutes)                   timedelta | None; None: the fee runs at any hour
_Prepared = tuple[
    PriceVersion,
    int,
    int,
    int,
    int,
    int,
    int,
    int,
    int,
    int,
    int,
    timedelta | None,
    Callable[[datetime, datetime], int] | None,
]
_FIXED, _IDLE, _PLAN, _VARIABLE = 0, 1, 2, 3
_KIND: Final = {
    PricingModel.FIXED: _FIXED,
    PricingModel.FIXED_WITH_IDLE: _IDLE,
    PricingModel.PLATFORM_PLAN: _PLAN,
    PricingModel.VARIABLE_COST: _VARIABLE,
}


def _fraction(price: Decimal, per: int, exp: int) -> tuple[int, int, int]:
    """(2n, d, 2d) such that quantity × price / per, in minor units, is n/d."""
    num, den = ratio(price)
    num, den = num * 10**exp, den * per
    g = gcd(num, den) or 1
    num, den = num // g, den // g
    return 2 * num, den, 2 * den


_PREPARED: dict[int, _Prepared] = {}
_PLAN_FRACTIONS: dict[int, tuple[Plan, int, int, int]] = {}


def _prepare(version: PriceVersion) -> _Prepared:
    exp = exponent(version.currency)
    vat_num, vat_den = ratio(version.vat_rate)
    window = version.idle_window
    prepared: _Prepared = (
        version,
        _KIND[version.model],
        *_fraction(version.energy_per_kwh, 1000, exp),
        *_fraction(version.idle_per_minute, 1, exp),
        2 * vat_den,
        vat_den + vat_num,
        2 * (vat_den + vat_num),
        timedelta(minutes=version.idle_grace_minutes) if version.idle_grace_minutes else None,
        None if window is None else window.minutes_counter(),
    )
    if len(_PREPARED) >= _PREPARED_MAX:
        _PREPARED.clear()
    _PREPARED[id(version)] = prepared  # holds the version, so its id is not reused
    return prepared


def _plan_fraction(plan: Plan) -> tuple[Plan, int, int, int]:
    found = (plan, *_fraction(plan.price_per_kwh, 1000, exponent(plan.currency)))
    if len(_PLAN_FRACTIONS) >= _PREPARED_MAX:
        _PLAN_FRACTIONS.clear()
    _PLAN_FRACTIONS[id(plan)] = found
    return found


class PriceHistory:
    """The versions of one site and price group; a change applies to sessions that start
    after it takes effect (domain.md §3), so a session is priced with the version in force
    at its start."""

    __slots__ = ("_lookup", "_starts", "_versions")

    def __init__(self, versions: Iterable[PriceVersion]) -> None:
        ordered = sorted(versions, key=lambda v: v.effective_from)
        if not ordered:
            raise PricingError("A price history needs at least one version.")
        for a, b in pairwise(ordered):
            if a.effective_from == b.effective_from:
                raise PricingError(
                    f"Versions {a.version_id} and {b.version_id} take effect at the same moment."
                )
        self._versions = ordered
        self._starts = [v.effective_from for v in ordered]
        # what price_sessions reads: the start moments and the prepared prices, in order
        self._lookup = (self._starts, [_PREPARED.get(id(v)) or _prepare(v) for v in ordered])

    @property
    def versions(self) -> tuple[PriceVersion, ...]:
        return tuple(self._versions)

    def in_force(self, at: datetime) -> PriceVersion:
        i = bisect_right(self._starts, at)
        if i == 0:
            raise _not_in_force(self._versions[0], at)
        return self._versions[i - 1]

    def price(self, usage: Usage, plan: Plan | None = None) -> PricedSession:
        """Price `usage` with the version in force at its start."""
        return price_sessions(((self, usage, plan),))[0]


def _not_in_force(first: PriceVersion, at: datetime) -> PricingError:
    return PricingError(
        f"No price is in force at {at.astimezone(UTC).isoformat()}: price version "
        f"{first.version_id} was not yet in force (from "
        f"{first.effective_from.astimezone(UTC).isoformat()}); a session is priced with the "
        "version in force at its start."
    )


def price_session(usage: Usage, version: PriceVersion, plan: Plan | None = None) -> PricedSession:
    """Price one finished (or running, with ended_at = now) session with `version`, which
    must have been in force when the session started."""
    return price_sessions(((PriceHistory((version,)), usage, plan),))[0]


def price_sessions(
    entries: Iterable[tuple[PriceHistory, Usage, Plan | None]],
) -> list[PricedSession]:
    """Price many sessions, each (price history of its site and group, usage, the driver's
    plan or None), with the version in force at the session's start.

    The one implementation behind price_session and PriceHistory.price, written as a loop
    so a settlement run or a period close pays for Python calls once, not per session.
    """
    out: list[PricedSession] = []
    append = out.append
    new, cls, plan_fractions = tuple.__new__, PricedSession, _PLAN_FRACTIONS
    for history, usage, plan in entries:
        started = usage.started_at
        starts, prepared = history._lookup
        i = bisect_right(starts, started)
        if i == 0:
            raise _not_in_force(history._versions[0], started)
        (version, kind, en2, ed, ed2, in2, idd, id2, vd2, vsum, vsum2, grace, count) = prepared[
            i - 1
        ]
        idle_minutes = None
        if kind:
            if kind == _IDLE:
                lo = usage.full_at
                if lo is not None:
                    if lo < started:
                        lo = started
                    if grace is not None:
                        lo += grace
                    hi = usage.ended_at
                    if lo >= hi:
                        idle_minutes = 0
                    elif count is None:
                        inside = hi - lo  # whole seconds decide; a partial minute is free
                        idle_minutes = (inside.days * 86_400 + inside.seconds) // 60
                    else:
                        idle_minutes = count(lo, hi)
            elif kind == _PLAN:
                if plan is None:
                    raise PricingError("A platform-priced station needs the driver's plan.")
                _, en2, ed, ed2 = plan_fractions.get(id(plan)) or _plan_fraction(plan)
                if plan.currency != version.currency:
                    raise MoneyError(
                        f"Plan in {plan.currency} cannot price a {version.currency} station."
                    )
            else:
                raise PricingError(
                    "Variable-cost sessions are priced at period close "
                    "(see shared.settlement.close_variable_cost_period)."
                )
        gross = energy = ((usage.meter_stop_wh - usage.meter_start_wh) * en2 + ed) // ed2
        if idle_minutes:
            gross += (idle_minutes * in2 + idd) // id2
        net = (gross * vd2 + vsum) // vsum2  # round(gross / (1 + rate)), half up, exact
        append(new(cls, (usage, version, plan, energy, idle_minutes, gross, net)))
    return out


def version_in_force(versions: list[PriceVersion], at: datetime) -> PriceVersion:
    """The version whose effective_from is the latest not after `at`."""
    moment = at.astimezone(UTC)
    valid = [v for v in versions if v.effective_from <= moment]
    if not valid:
        raise PricingError(f"No price is in force at {moment.isoformat()}.")
    return max(valid, key=lambda v: v.effective_from)
