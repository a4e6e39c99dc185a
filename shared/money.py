"""Exact money: integer minor units per currency, half-up rounding at each document line.

domain.md §5: amounts are exact decimals stored as integer minor units (grosze, øre),
never floats; round half up to 0.01 at each document line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from math import lcm
from typing import Final

_EXPONENT: Final = {"PLN": 2, "NOK": 2, "EUR": 2}

# Our own contexts, so a result never depends on whatever decimal.getcontext() a caller
# (or a library) left behind. Products are exact or raise; only quantize rounds, half up.
_EXACT: Final = Context(
    prec=120,
    rounding=ROUND_HALF_UP,
    Emax=MAX_EMAX,
    Emin=MIN_EMIN,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)
_ROUNDING: Final = Context(
    prec=120,
    rounding=ROUND_HALF_UP,
    Emax=MAX_EMAX,
    Emin=MIN_EMIN,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)


class MoneyError(ValueError):
    """An amount that cannot be what it claims (unknown currency, mixed currencies, float)."""


def exponent(currency: str) -> int:
    try:
        return _EXPONENT[currency]
    except KeyError:
        raise MoneyError(f"Unsupported currency {currency!r}.") from None


def to_decimal(value: Decimal | int | str) -> Decimal:
    """Accept exact inputs only: a float has already lost the grosz we are asked to keep."""
    if isinstance(value, (bool, float)):
        raise MoneyError("Floats are not accepted for money or quantities; use Decimal or str.")
    result = Decimal(value)
    if not result.is_finite():
        raise MoneyError("Amounts must be finite numbers.")
    return result


def round_half_up(value: Decimal, places: int = 2) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP, context=_ROUNDING)


def div_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to an integer, ties away from zero (exact)."""
    if denominator <= 0:
        raise MoneyError("Divide by a positive number.")
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((-2 * numerator + denominator) // (2 * denominator))


def ratio(value: Decimal | int | str) -> tuple[int, int]:
    """An exact decimal as numerator / denominator (denominator > 0)."""
    d = to_decimal(value)
    if d and not -60 <= d.adjusted() <= 36:  # what no amount or quantity of ours can be
        raise MoneyError(f"{value} is out of the range of amounts and quantities.")
    return d.as_integer_ratio()


def exact_product(a: Decimal, b: Decimal) -> Decimal:
    """a × b without rounding (raises rather than lose a digit)."""
    return _EXACT.multiply(a, b)


def exact_difference(a: Decimal, b: Decimal) -> Decimal:
    return _EXACT.subtract(a, b)


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    total = Decimal(0)
    for value in values:
        total = _EXACT.add(total, value)
    return total


def shift(value: Decimal, places: int) -> Decimal:
    """value × 10**places, exactly (kWh ↔ MWh)."""
    return _EXACT.scaleb(value, places)


@dataclass(frozen=True, order=True, slots=True)
class Money:
    minor: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.minor) is not int:  # not a float, not a bool
            raise MoneyError("Money is held in integer minor units.")
        if self.currency not in _EXPONENT:
            exponent(self.currency)  # raises, naming the currency

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        """From major units, rounded half up to the currency's minor unit."""
        num, den = ratio(amount)
        return cls(div_half_up(num * 10 ** exponent(currency), den), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @property
    def amount(self) -> Decimal:
        return Decimal(self.minor).scaleb(-exponent(self.currency), context=_ROUNDING)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise MoneyError(f"Cannot combine {self.currency} with {other.currency}.")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def times(self, factor: Decimal | int | str) -> Money:
        """This amount times an exact factor, rounded half up (one document line)."""
        num, den = ratio(factor)
        return Money(div_half_up(self.minor * num, den), self.currency)

    def percent(self, pct: Decimal | int | str) -> Money:
        """pct % of this amount, rounded half up."""
        num, den = ratio(pct)
        return Money(div_half_up(self.minor * num, den * 100), self.currency)

    def is_zero(self) -> bool:
        return self.minor == 0

    def __str__(self) -> str:
        return f"{self.amount:.{exponent(self.currency)}f} {self.currency}"


def line(quantity: Decimal | int | str, unit_price: Decimal | int | str, currency: str) -> Money:
    """A document line: quantity × unit price, rounded half up once, at the line."""
    return Money.of(exact_product(to_decimal(quantity), to_decimal(unit_price)), currency)


def total(amounts: list[Money], currency: str) -> Money:
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result


def allocate(amount: Money, weights: list[Decimal]) -> list[Money]:
    """Split `amount` in proportion to `weights` so the shares sum exactly to it.

    Largest-remainder method (domain.md §6, variable cost): each share is first rounded
    toward zero in minor units; the minor units left over go one each to the shares with
    the largest remainders (ties to the earlier share, so the result is deterministic).
    Exact: the weights are turned into integers over a common denominator.
    """
    if not weights:
        raise MoneyError("Nothing to allocate over.")
    ratios = [ratio(w) for w in weights]
    if any(n < 0 for n, _ in ratios):
        raise MoneyError("Weights cannot be negative.")
    common = lcm(*(d for _, d in ratios))
    ints = [n * (common // d) for n, d in ratios]
    weight_sum = sum(ints)
    if weight_sum == 0:
        raise MoneyError("Weights sum to zero.")
    sign = -1 if amount.minor < 0 else 1
    units = abs(amount.minor)
    floors, remainders = [], []
    for w in ints:
        q, r = divmod(units * w, weight_sum)
        floors.append(q)
        remainders.append(r)
    left = units - sum(floors)
    order = sorted(range(len(ints)), key=lambda i: (-remainders[i], i))
    for i in order[:left]:
        floors[i] += 1
    return [Money(sign * f, amount.currency) for f in floors]
