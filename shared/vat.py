"""VAT on documents: consumer prices are gross, B2B settlements are net (domain.md §5)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shared.money import Money, MoneyError, div_half_up, ratio, to_decimal


@dataclass(frozen=True)
class VatSplit:
    net: Money
    vat: Money
    gross: Money
    rate: Decimal

    def __post_init__(self) -> None:
        net, vat, gross = self.net, self.vat, self.gross
        if net.currency != gross.currency or vat.currency != gross.currency:
            raise MoneyError("net, VAT and gross must share a currency")
        if net.minor + vat.minor != gross.minor:
            raise MoneyError("net + VAT must equal gross")


def _rate(rate: Decimal | str) -> Decimal:
    r = to_decimal(rate)
    if not Decimal(0) <= r < Decimal(1):
        raise MoneyError(f"A VAT rate is a fraction between 0 and 1, got {r}.")
    return r


def net_minor_from_gross(gross_minor: int, rate_num: int, rate_den: int) -> int:
    """round(gross / (1 + num/den)) in minor units, half up, exactly."""
    return div_half_up(gross_minor * rate_den, rate_den + rate_num)


def from_gross(gross: Money, rate: Decimal | str) -> VatSplit:
    """A receipt: net = round(gross / (1 + rate)), VAT = gross − net, once per document."""
    r = _rate(rate)
    num, den = ratio(r)
    net = Money(net_minor_from_gross(gross.minor, num, den), gross.currency)
    return VatSplit(net=net, vat=gross - net, gross=gross, rate=r)


def from_net(net: Money, rate: Decimal | str) -> VatSplit:
    """A B2B document: VAT = round(net × rate) added on top of the net total."""
    r = _rate(rate)
    vat = net.times(r)
    return VatSplit(net=net, vat=vat, gross=net + vat, rate=r)


def from_net_each(nets: list[Money], rate: Decimal | str) -> list[VatSplit]:
    """from_net for each of many documents at one rate."""
    r = _rate(rate)
    num, den = ratio(r)
    out = []
    for net in nets:
        vat = Money(div_half_up(net.minor * num, den), net.currency)
        out.append(VatSplit(net, vat, Money(net.minor + vat.minor, net.currency), r))
    return out
