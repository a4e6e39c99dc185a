"""Settlement between platform and operator per period (domain.md §2 and §5).

B2B: computed on net amounts, VAT added on top of the document's net total.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from shared.money import Money, allocate, exact_difference, exact_sum, line, to_decimal
from shared.supply_tariff import SupplyInvoice
from shared.vat import VatSplit, from_net, from_net_each


class BusinessCase(StrEnum):
    P1 = "P1"
    P2 = "P2"
    PUB = "PUB"
    SEMI = "SEMI"


class SettlementError(ValueError):
    pass


@dataclass(frozen=True)
class Contract:
    business_case: BusinessCase
    currency: str
    vat_rate: Decimal
    fee_percent: Decimal = Decimal(0)  # of net revenue, e.g. Decimal("5") for 5 %
    fee_fixed_per_cp: Money | None = None  # net, per charge point per month
    fee_per_kwh: Decimal = Decimal(0)  # net, per kWh (the hotel example)
    agreed_price_per_kwh: Decimal | None = None  # net, PUB only


@dataclass(frozen=True)
class SettlementLine:
    description: str
    amount: Money  # net; positive is owed to the operator, negative owed to the platform


@dataclass(frozen=True)
class Settlement:
    business_case: BusinessCase
    revenue_net: Money
    fee_net: Money
    lines: tuple[SettlementLine, ...]
    payout: VatSplit | None  # the platform pays the operator
    invoice: VatSplit | None  # the platform bills the operator (P2)
    # A negative balance (refunds above revenue) owed by the operator: no document
    # now, it is brought forward into the next settlement (net; VAT comes with it).
    carried: Money | None = None


def settle(
    contract: Contract,
    *,
    session_nets: list[Money],
    kwh: Decimal | str,
    charge_points: int,
    months: int = 1,
    refund_nets: list[Money] | None = None,
    brought_forward: Money | None = None,
    collected_nets: list[Money] | None = None,
    final: bool = False,
) -> Settlement:
    """One period's settlement. `session_nets` are the net amounts of the period's
    receipts (gross split per document), `kwh` the energy delivered at the operator's
    stations, `charge_points` those under contract in the period.

    `refund_nets` (positive) are refunds made since the last settlement: revenue given
    back lowers the revenue the fee is a share of (domain.md §5: refunds go into the
    next settlement). `brought_forward` (≤ 0) is the previous settlement's negative
    balance. A PUB payout depends on energy only, whatever drivers paid or got back,
    so refunds do not touch it.

    A hotel (P2) invoices its guests itself: `session_nets` are then its guests'
    statement amounts, money the platform never had. `collected_nets` are what the
    platform did collect by card at the hotel's sites (a code billed per session, say):
    the operator's money, set against the fee, with the refunds made on it; if it
    exceeds the fee, the platform pays the rest out instead of billing.

    A negative result (the operator owes: refunds or a fixed fee above the revenue) is
    carried into the next settlement and set against later payouts, as a connected
    account's negative balance is; in the `final` settlement of a contract there is no
    next one, so it is invoiced instead."""
    cur = contract.currency
    energy = to_decimal(kwh)
    if charge_points < 0 or months < 1 or energy < 0:
        raise SettlementError("Charge points, months and energy cannot be negative.")
    refunds = list(refund_nets or [])
    if any(r.minor < 0 for r in refunds):
        raise SettlementError("A refund is given as the positive amount given back.")
    balance = brought_forward if brought_forward is not None else Money.zero(cur)
    if balance.minor > 0:
        raise SettlementError("Only a negative balance is brought forward.")
    sessions = Money.zero(cur)
    for net in session_nets:
        sessions = sessions + net
    refunded = Money.zero(cur)
    for r in refunds:
        refunded = refunded + r
    collected = Money.zero(cur)
    for c in collected_nets or []:
        collected = collected + c
    case = contract.business_case
    if collected_nets and case != BusinessCase.P2:
        raise SettlementError("Only a hotel (P2) settlement sets collected money apart.")
    revenue = sessions
    if case in (BusinessCase.P1, BusinessCase.SEMI):
        revenue = sessions - refunded
    elif case == BusinessCase.P2:
        revenue = sessions + collected - refunded
    fixed = contract.fee_fixed_per_cp or Money.zero(cur)
    percent_fee = revenue.percent(contract.fee_percent)
    fixed_fee = line(charge_points * months, fixed.amount, cur)
    kwh_fee = line(energy, contract.fee_per_kwh, cur)
    fee_lines = [
        SettlementLine(f"network fee {contract.fee_percent}% of net revenue", -percent_fee),
        SettlementLine(
            f"network fee {charge_points} charge point(s) × {months} month(s)", -fixed_fee
        ),
        SettlementLine(f"network fee {energy} kWh × {contract.fee_per_kwh}", -kwh_fee),
    ]
    fee_lines = [x for x in fee_lines if not x.amount.is_zero()]
    fee = percent_fee + fixed_fee + kwh_fee
    carry = [SettlementLine("balance brought forward", balance)] if balance.minor else []
    if case in (BusinessCase.P1, BusinessCase.SEMI):
        given_back = [SettlementLine("refunds to drivers", -refunded)] if refunds else []
        lines = (SettlementLine("net revenue of sessions", sessions), *given_back, *fee_lines)
        return _paying(
            contract, case, revenue, fee, (*lines, *carry), revenue - fee + balance, final
        )
    if case == BusinessCase.PUB:
        if contract.agreed_price_per_kwh is None:
            raise SettlementError("A PUB contract needs an agreed price per kWh.")
        amount = line(energy, contract.agreed_price_per_kwh, cur)
        lines = (SettlementLine(f"{energy} kWh × {contract.agreed_price_per_kwh} agreed", amount),)
        return _paying(
            contract, case, revenue, Money.zero(cur), (*lines, *carry), amount + balance, final
        )
    # P2: the hotel collected from its guests itself; the platform bills its fee, plus
    # any balance the operator still owed, less what it collected for the hotel.
    kept = [SettlementLine("net revenue collected by card for the operator", collected)]
    given_back = [SettlementLine("refunds to drivers", -refunded)] if refunds else []
    lines = (*(kept if collected_nets else []), *given_back, *fee_lines, *carry)
    owed = fee - balance - (collected - refunded)
    if owed.minor < 0:
        return _paying(contract, case, revenue, fee, lines, -owed, final)
    return Settlement(case, revenue, fee, lines, None, from_net(owed, contract.vat_rate))


def _paying(
    contract: Contract,
    case: BusinessCase,
    revenue: Money,
    fee: Money,
    lines: tuple[SettlementLine, ...],
    net: Money,
    final: bool,
) -> Settlement:
    if net.minor < 0 and final:
        return Settlement(case, revenue, fee, lines, None, from_net(-net, contract.vat_rate))
    if net.minor < 0:
        return Settlement(case, revenue, fee, lines, None, None, carried=net)
    return Settlement(case, revenue, fee, lines, from_net(net, contract.vat_rate), None)


@dataclass(frozen=True)
class CostShare:
    key: str
    kwh: Decimal
    cost: VatSplit


def variable_cost_shares(
    cost_net: Money,
    metered_kwh: Decimal | str,
    driver_kwh: dict[str, Decimal],
    vat_rate: Decimal | str,
    owner_key: str = "owner",
) -> list[CostShare]:
    """Co-op model: the period's real supply cost shared in proportion to kWh, exactly
    (largest remainder); what the drivers did not use passes through to the owner."""
    metered = to_decimal(metered_kwh)
    energies = [to_decimal(v) for v in driver_kwh.values()]
    if any(v < 0 for v in energies):
        raise SettlementError("A driver's energy cannot be negative.")
    used = exact_sum(energies)
    if used > metered:
        raise SettlementError(
            f"Drivers charged {used} kWh but the site meter shows only {metered} kWh."
        )
    if owner_key in driver_kwh:
        raise SettlementError(f"The owner's key {owner_key!r} is also a driver's.")
    keys = [*driver_kwh.keys(), owner_key]
    weights = [*energies, exact_difference(metered, used)]
    # Nothing metered: nobody used anything, the owner carries the fixed fee.
    shares = allocate(cost_net, weights if metered else [*energies, Decimal(1)])
    return [
        CostShare(k, w, split)
        for k, w, split in zip(keys, weights, from_net_each(shares, vat_rate), strict=True)
    ]


@dataclass(frozen=True)
class VariableCostPeriod:
    """A co-op site's period closed: the supplier's cost and everybody's share of it,
    with what it was computed from (the tariff, the group, the invoice lines)."""

    invoice: SupplyInvoice
    shares: tuple[CostShare, ...]

    @property
    def cost_net(self) -> Money:
        return self.invoice.net

    def explain(self) -> list[str]:
        inv = self.invoice
        text = [f"tariff {inv.tariff_id}, group {inv.group}, metered {inv.metered_kwh} kWh"]
        text += [
            f"{x.description}: {x.quantity} {x.unit} × {x.unit_price} = {x.amount}"
            for x in inv.lines
        ]
        text.append(f"cost {inv.net} net, shared in proportion to kWh (largest remainder)")
        text += [
            f"{s.key}: {s.kwh} kWh → {s.cost.net} net + {s.cost.vat} VAT = {s.cost.gross}"
            for s in self.shares
        ]
        return text


def close_variable_cost_period(
    invoice: SupplyInvoice,
    driver_kwh: dict[str, Decimal],
    vat_rate: Decimal | str,
    owner_key: str = "owner",
) -> VariableCostPeriod:
    """Variable-cost model at period close (domain.md §3): the site meter's energy priced
    by its supply tariff (`invoice`, from shared.supply_tariff.supply_invoice) is shared
    over the drivers in proportion to their kWh, exactly; the rest goes to the owner."""
    shares = variable_cost_shares(invoice.net, invoice.metered_kwh, driver_kwh, vat_rate, owner_key)
    return VariableCostPeriod(invoice, tuple(shares))
