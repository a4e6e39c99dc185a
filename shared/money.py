"""Exact money: integer minor units per currency, half-up rounding at each document line.

domain.md §5: amounts are exact decimals stored as integer minor units (grosze, øre),
never floats; round half up to 0.01 at each document line.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

_EXPONENT: Final = {"PLN": 2, "NOK": 2, "EUR": 2}


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
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, order=True)
class Money:
    minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise MoneyError("Money is held in integer minor units.")
        exponent(self.currency)

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        """From major units, rounded half up to the currency's minor unit."""
        exp = exponent(currency)
        scaled = round_half_up(to_decimal(amount), exp).scaleb(exp)
        return cls(int(scaled), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @property
    def amount(self) -> Decimal:
        return Decimal(self.minor).scaleb(-exponent(self.currency))

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
        return Money.of(self.amount * to_decimal(factor), self.currency)

    def is_zero(self) -> bool:
        return self.minor == 0

    def __str__(self) -> str:
        return f"{self.amount:.{exponent(self.currency)}f} {self.currency}"


def line(quantity: Decimal | int | str, unit_price: Decimal | int | str, currency: str) -> Money:
    """A document line: quantity × unit price, rounded half up once, at the line."""
    return Money.of(to_decimal(quantity) * to_decimal(unit_price), currency)


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
    """
    if not weights:
        raise MoneyError("Nothing to allocate over.")
    weights = [to_decimal(w) for w in weights]
    if any(w < 0 for w in weights):
        raise MoneyError("Weights cannot be negative.")
    weight_sum = sum(weights, Decimal(0))
    if weight_sum == 0:
        raise MoneyError("Weights sum to zero.")
    sign = -1 if amount.minor < 0 else 1
    units = abs(amount.minor)
    exact = [Decimal(units) * w / weight_sum for w in weights]
    floors = [int(x) for x in exact]
    left = units - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [Money(sign * f, amount.currency) for f in floors]
