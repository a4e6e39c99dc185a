"""VAT on documents: consumer prices are gross, B2B settlements are net (domain.md §5)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shared.money import Money, MoneyError, to_decimal


@dataclass(frozen=True)
class VatSplit:
    net: Money
    vat: Money
    gross: Money
    rate: Decimal

    def __post_init__(self) -> None:
        if self.net + self.vat != self.gross:
            raise MoneyError("net + VAT must equal gross")


def _rate(rate: Decimal | str) -> Decimal:
    r = to_decimal(rate)
    if not Decimal(0) <= r < Decimal(1):
        raise MoneyError(f"A VAT rate is a fraction between 0 and 1, got {r}.")
    return r


def from_gross(gross: Money, rate: Decimal | str) -> VatSplit:
    """A receipt: net = round(gross / (1 + rate)), VAT = gross − net, once per document."""
    r = _rate(rate)
    net = Money.of(gross.amount / (1 + r), gross.currency)
    return VatSplit(net=net, vat=gross - net, gross=gross, rate=r)


def from_net(net: Money, rate: Decimal | str) -> VatSplit:
    """A B2B document: VAT = round(net × rate) added on top of the net total."""
    r = _rate(rate)
    vat = net.times(r)
    return VatSplit(net=net, vat=vat, gross=net + vat, rate=r)
