"""What an operator's settlement counts: everything at its sites not yet settled, up to
and including the period (domain.md §5: sessions belong to the period of their end; a
period is settled once, so what arrives after it closed goes into the next one).

- receipts (P1, SEMI, PUB): the net of each document drivers were given, per document
  as VAT is split per document; a month of `monthly` sessions is one receipt;
- refunds: what was given back since (its correction note's net, VAT as on the receipt);
- sessions: the energy delivered (every ended session, paid or not: PUB pays for kWh,
  P2 is billed per kWh) and, for a hotel (P2), its guests' statement amounts;
- the balance an earlier settlement carried forward.

Each becomes a `SettlementItem` whose `source_key` is unique across all settlements, so
nothing is counted twice, even by two workers racing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import String, cast, exists, literal, select
from sqlalchemy.orm import Session

from backend.db.models import ChargePoint, Receipt, SessionCharge, Site
from backend.db.models.enums import BillingMode
from backend.db.models.payments import Refund
from backend.db.models.settlements import Settlement, SettlementItem
from backend.services import billing_periods
from backend.services.billing_pricing import period_of
from shared import countries
from shared.money import Money
from shared.vat import from_gross

RECEIPT, REFUND, SESSION, BALANCE = "receipt", "refund", "session", "balance"
SUCCEEDED = "succeeded"


@dataclass
class Basis:
    currency: str
    items: list[SettlementItem] = field(default_factory=list)
    session_nets: list[Money] = field(default_factory=list)
    refund_nets: list[Money] = field(default_factory=list)
    collected_nets: list[Money] = field(default_factory=list)  # card money at a hotel
    energy_wh: int = 0
    brought_forward: Money | None = None

    @property
    def kwh(self) -> Decimal:
        return kwh_of(self.energy_wh)


def kwh_of(wh: int) -> Decimal:
    """Wh as kWh to the Wh (domain.md §5), always written with three places."""
    return (Decimal(wh) / 1000).quantize(Decimal("0.001"))


def _unsettled(kind: str, id_column: object) -> object:
    key = literal(f"{kind}:") + cast(id_column, String)
    return ~exists(select(SettlementItem.id).where(SettlementItem.source_key == key))


def gather(s: Session, operator_id: int, period: str, currency: str, hotel: bool) -> Basis:
    """The unsettled things of `operator_id` in `currency` up to `period` (YYYY-MM)."""
    basis = Basis(currency)
    # A hotel's guests pay the hotel, but a card paid at its sites (a code billed per
    # session) is money the platform holds for it.
    _receipts(s, basis, operator_id, period, basis.collected_nets if hotel else None)
    _refunds(s, basis, operator_id, period)
    _sessions(s, basis, operator_id, period, hotel)
    _balance(s, basis, operator_id)
    return basis


def _receipts(
    s: Session, basis: Basis, operator_id: int, period: str, into: list[Money] | None
) -> None:
    rows = s.execute(
        select(Receipt, SessionCharge.period)
        .join(Site, Site.id == Receipt.site_id)
        .outerjoin(SessionCharge, SessionCharge.session_id == Receipt.session_id)
        .where(
            Site.operator_id == operator_id,
            Receipt.kind == RECEIPT,
            Receipt.currency == basis.currency,
            _unsettled(RECEIPT, Receipt.id),
        )
        .order_by(Receipt.id)
    ).all()
    for receipt, session_period in rows:
        origin = receipt.period or session_period or period_of(receipt.issued_at, receipt.timezone)
        if origin > period:
            continue
        (basis.session_nets if into is None else into).append(
            Money(receipt.net_minor, receipt.currency)
        )
        basis.items.append(
            SettlementItem(
                source_key=f"{RECEIPT}:{receipt.id}",
                kind=RECEIPT,
                origin_period=origin,
                net_minor=receipt.net_minor,
                receipt_id=receipt.id,
                session_id=receipt.session_id,
                reference=receipt.number,
            )
        )


def _refunds(s: Session, basis: Basis, operator_id: int, period: str) -> None:
    refunds = s.scalars(
        select(Refund)
        .where(
            Refund.operator_id == operator_id,
            Refund.status == SUCCEEDED,
            Refund.currency == basis.currency,
            Refund.period <= period,
            _unsettled(REFUND, Refund.id),
        )
        .order_by(Refund.id)
    ).all()
    for refund in refunds:
        net, reference = _refund_net(s, refund)
        basis.refund_nets.append(net)
        basis.items.append(
            SettlementItem(
                source_key=f"{REFUND}:{refund.id}",
                kind=REFUND,
                origin_period=refund.period,
                net_minor=-net.minor,
                refund_id=refund.id,
                session_id=refund.session_ref,
                reference=reference,
            )
        )


def _refund_net(s: Session, refund: Refund) -> tuple[Money, str]:
    """The net given back: the correction note's, when it has been issued; otherwise the
    gross split at the VAT rate of the receipt it corrects (as the note will be)."""
    note = s.scalar(select(Receipt).where(Receipt.refund_id == refund.id))
    if note is not None:
        return Money(-note.net_minor, note.currency), note.number
    paid = s.scalar(
        select(Receipt).where(Receipt.payment_id == refund.payment_id, Receipt.kind == RECEIPT)
    )
    if paid is None and refund.session_ref is not None:
        paid = s.scalar(
            select(Receipt).where(Receipt.session_id == refund.session_ref, Receipt.kind == RECEIPT)
        )
    gross = Money(refund.amount_minor, refund.currency)
    if paid is None:  # no receipt to take the rate from: the site's country's rate
        site = s.get(Site, refund.site_id) if refund.site_id else None
        rate = countries.country(site.country).vat_rate if site else Decimal(0)
        return from_gross(gross, rate).net, ""
    return from_gross(gross, paid.vat_rate).net, paid.number


def _sessions(s: Session, basis: Basis, operator_id: int, period: str, hotel: bool) -> None:
    charges = s.scalars(
        select(SessionCharge)
        .where(
            SessionCharge.operator_id == operator_id,
            SessionCharge.currency == basis.currency,
            SessionCharge.period <= period,
            _unsettled(SESSION, SessionCharge.session_id),
        )
        .order_by(SessionCharge.session_id)
    ).all()
    for charge in charges:
        # A hotel guest's session is on the hotel's statement: the hotel's revenue.
        guest = hotel and charge.billing_mode == BillingMode.OPERATOR_INVOICED.value
        net = charge.net_minor if guest else 0
        if guest:
            basis.session_nets.append(Money(net, charge.currency))
        basis.energy_wh += charge.energy_wh
        basis.items.append(
            SettlementItem(
                source_key=f"{SESSION}:{charge.session_id}",
                kind=SESSION,
                origin_period=charge.period,
                net_minor=net,
                energy_wh=charge.energy_wh,
                session_id=charge.session_id,
                reference=charge.price_version_ref[:60],
            )
        )


def _balance(s: Session, basis: Basis, operator_id: int) -> None:
    earlier = s.scalar(
        select(Settlement)
        .where(
            Settlement.operator_id == operator_id,
            Settlement.currency == basis.currency,
            Settlement.direction == "carried",
            _unsettled(BALANCE, Settlement.id),
        )
        .order_by(Settlement.period.desc())
        .limit(1)
    )
    if earlier is None:
        return
    basis.brought_forward = Money(earlier.net_minor, earlier.currency)
    basis.items.append(
        SettlementItem(
            source_key=f"{BALANCE}:{earlier.id}",
            kind=BALANCE,
            origin_period=earlier.period,
            net_minor=earlier.net_minor,
            reference=earlier.number,
        )
    )


def charge_points_under_contract(s: Session, operator_id: int, period: str) -> int:
    """The operator's commissioned charge points that existed before the period ended
    (in their site's time zone): the fixed fee is per charge point per month."""
    rows = s.execute(
        select(ChargePoint.created_at, Site.timezone)
        .join(Site, Site.id == ChargePoint.site_id)
        .where(Site.operator_id == operator_id, ChargePoint.commissioned.is_(True))
    ).all()
    end = billing_periods.next_period(period)
    return sum(1 for created, zone in rows if period_of(created, zone) < end)
