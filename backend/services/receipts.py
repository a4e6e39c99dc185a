"""Issuing the documents a driver gets: receipts, correction notes, and a hotel guest's
charging-service statement (domain.md §2 P2: to be invoiced by the hotel, not a receipt).

Every document is a snapshot: seller, buyer, site, lines, sessions (times, meter
readings, price version) and totals are copied into it when it is issued. Nothing here
commits: the caller links the document to what it is for and commits both together,
with the number taken from the locked counter (receipts_numbering) in the same
transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.db.models import (
    ChargePoint,
    Driver,
    Operator,
    Payment,
    PaymentCard,
    Receipt,
    Refund,
    SessionCharge,
    Site,
    User,
)
from backend.services import receipts_lines as rl
from backend.services.receipts_numbering import lock_counter, take_next
from shared.money import Money


@dataclass(frozen=True)
class Seller:
    """The platform, merchant of record (domain.md §1), as printed on receipts."""

    name: str
    address: str
    tax_id: str
    timezone: str = "Europe/Warsaw"
    prefix: str = "WP"

    @classmethod
    def from_settings(cls, settings: Settings) -> Seller:
        return cls(
            settings.seller_name,
            settings.seller_address,
            settings.seller_tax_id,
            settings.seller_timezone,
            settings.receipt_number_prefix,
        )


@dataclass
class Draft:
    kind: str
    source_key: str
    driver_id: int | None
    site: Site | None
    currency: str
    vat_rate: Decimal
    lines: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    session_id: int | None = None
    period: str | None = None
    payment_id: int | None = None
    refund_id: int | None = None
    corrects: Receipt | None = None
    card_brand: str = ""
    card_last4: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def issue(s: Session, seller: Seller, draft: Draft, now: datetime) -> Receipt:
    """The document for `draft.source_key`: the one already issued, or a new one with
    the next number of its series (no commit)."""
    series = rl.series_of(seller.prefix, draft.kind)
    year = now.astimezone(ZoneInfo(seller.timezone)).year
    counter = lock_counter(s, series, year)
    # Looked up after the lock: a concurrent issue of the same document has committed
    # by now (or rolled back), so it is seen here and not issued twice.
    existing = s.scalar(select(Receipt).where(Receipt.source_key == draft.source_key))
    if existing is not None:
        return existing
    seq = take_next(counter)
    split = rl.document_split(draft.lines, draft.currency, draft.vat_rate)
    site = draft.site
    content = {
        "seller": {"name": seller.name, "address": seller.address, "tax_id": seller.tax_id},
        "buyer": buyer_of(s, draft.driver_id),
        "site": site_of(s, site),
        "lines": draft.lines,
        "sessions": draft.sessions,
        **draft.extra,
    }
    if draft.corrects is not None:
        content["corrects"] = {"id": draft.corrects.id, "number": draft.corrects.number}
    receipt = Receipt(
        kind=draft.kind,
        number=rl.format_number(series, year, seq),
        series=series,
        year=year,
        seq=seq,
        source_key=draft.source_key,
        driver_id=draft.driver_id,
        site_id=site.id if site is not None else None,
        session_id=draft.session_id,
        period=draft.period,
        payment_id=draft.payment_id,
        refund_id=draft.refund_id,
        corrects_id=draft.corrects.id if draft.corrects is not None else None,
        currency=draft.currency,
        vat_rate=draft.vat_rate,
        net_minor=split.net.minor,
        vat_minor=split.vat.minor,
        gross_minor=split.gross.minor,
        card_brand=draft.card_brand,
        card_last4=draft.card_last4,
        timezone=site.timezone if site is not None else seller.timezone,
        content=json.dumps(content, ensure_ascii=False, sort_keys=True),
        issued_at=now,
        created_at=now,
    )
    s.add(receipt)
    s.flush()
    return receipt


# --- snapshots --------------------------------------------------------------------------


def buyer_of(s: Session, driver_id: int | None) -> dict[str, Any]:
    """The driver's billing data (name, address, tax id if any) as of issuing."""
    if driver_id is None:
        return {}
    user = s.get(User, driver_id)
    d = s.get(Driver, driver_id)
    if user is None:
        return {}
    name = (d.billing_name or d.full_name) if d else ""
    address = []
    if d is not None:
        city = " ".join(x for x in (d.billing_postal_code, d.billing_city) if x)
        address = [x for x in (d.billing_street, city, d.billing_country) if x]
    return {
        "name": name,
        "email": user.email,
        "address": address,
        "tax_id": d.billing_tax_id if d else "",
    }


def site_of(s: Session, site: Site | None) -> dict[str, Any]:
    if site is None:
        return {}
    operator = s.get(Operator, site.operator_id)
    city = " ".join(x for x in (site.postal_code, site.city) if x)
    return {
        "id": site.id,
        "name": site.name,
        "address": [x for x in (site.street, city, site.country) if x],
        "timezone": site.timezone,
        "operator": {
            "id": site.operator_id,
            "name": (operator.legal_name or operator.name) if operator else "",
        },
    }


def session_of(s: Session, charge: SessionCharge) -> dict[str, Any]:
    """What ties a document's lines to the session: times, meter readings, version."""
    cp = s.get(ChargePoint, charge.charge_point_id) if charge.charge_point_id else None
    inputs = json.loads(charge.inputs or "{}")

    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment is not None else None

    return {
        "session_id": charge.session_id,
        "charge_point": cp.ocpp_identity if cp is not None else "",
        "charge_point_id": charge.charge_point_id,
        "connector_id": int(inputs["connector_id"]) if inputs.get("connector_id") else None,
        "started_at": iso(charge.started_at),
        "ended_at": iso(charge.ended_at),
        "car_full_at": iso(charge.car_full_at),
        "meter_start_wh": int(inputs.get("meter_start_wh") or 0),
        "meter_stop_wh": int(inputs.get("meter_stop_wh") or 0),
        "energy_wh": charge.energy_wh,
        "idle_minutes": charge.idle_minutes,
        "price_version_id": charge.price_version_id,
        "price_version": charge.price_version_ref,
        "plan": inputs.get("plan") or None,
    }


def card_of(s: Session, payment: Payment | None) -> tuple[str, str]:
    """Brand and last 4 digits of the card a payment was taken from."""
    if payment is None or not payment.payment_method_id:
        return "", ""
    card = s.scalar(
        select(PaymentCard).where(PaymentCard.stripe_payment_method_id == payment.payment_method_id)
    )
    return (card.brand, card.last4) if card is not None else ("", "")


# --- the documents -----------------------------------------------------------------------


def session_receipt(
    s: Session, seller: Seller, charge: SessionCharge, payment: Payment | None, now: datetime
) -> Receipt:
    """One receipt per paid per_session session."""
    brand, last4 = card_of(s, payment)
    return issue(
        s,
        seller,
        Draft(
            kind=rl.RECEIPT,
            source_key=f"session:{charge.session_id}",
            driver_id=charge.driver_id,
            site=s.get(Site, charge.site_id) if charge.site_id else None,
            currency=charge.currency,
            vat_rate=charge.vat_rate,
            lines=rl.with_session(json.loads(charge.lines), charge.session_id),
            sessions=[session_of(s, charge)],
            session_id=charge.session_id,
            payment_id=payment.id if payment is not None else None,
            card_brand=brand,
            card_last4=last4,
        ),
        now,
    )


def month_receipt(
    s: Session,
    seller: Seller,
    charges: list[SessionCharge],
    payment: Payment,
    period: str,
    now: datetime,
) -> Receipt:
    """One receipt for a driver's month at a site (monthly billing), after the charge."""
    first = charges[0]
    brand, last4 = card_of(s, payment)
    lines: list[dict[str, Any]] = []
    for c in charges:
        lines += rl.with_session(json.loads(c.lines), c.session_id)
    return issue(
        s,
        seller,
        Draft(
            kind=rl.RECEIPT,
            source_key=f"month:{first.driver_id}:{first.site_id}:{period}",
            driver_id=first.driver_id,
            site=s.get(Site, first.site_id) if first.site_id else None,
            currency=first.currency,
            vat_rate=first.vat_rate,
            lines=lines,
            sessions=[session_of(s, c) for c in charges],
            period=period,
            payment_id=payment.id,
            card_brand=brand,
            card_last4=last4,
        ),
        now,
    )


def guest_statement(s: Session, seller: Seller, charge: SessionCharge, now: datetime) -> Receipt:
    """A hotel guest's record of an operator_invoiced session: what the hotel will put
    on its own invoice; no card was charged, so this is not a receipt."""
    site = s.get(Site, charge.site_id) if charge.site_id else None
    return issue(
        s,
        seller,
        Draft(
            kind=rl.SERVICE_STATEMENT,
            source_key=f"guest:{charge.session_id}",
            driver_id=charge.driver_id,
            site=site,
            currency=charge.currency,
            vat_rate=charge.vat_rate,
            lines=rl.with_session(json.loads(charge.lines), charge.session_id),
            sessions=[session_of(s, charge)],
            session_id=charge.session_id,
            extra={"invoiced_by": site_of(s, site).get("operator", {})},
        ),
        now,
    )


def receipt_for_payment(s: Session, payment: Payment) -> Receipt | None:
    """The receipt a payment paid for: its session's, or its month's."""
    if payment.kind == "monthly":
        return s.scalar(
            select(Receipt).where(Receipt.payment_id == payment.id, Receipt.kind == rl.RECEIPT)
        )
    if payment.session_ref is None:
        return None
    return s.scalar(
        select(Receipt).where(Receipt.session_id == payment.session_ref, Receipt.kind == rl.RECEIPT)
    )


def correction(s: Session, seller: Seller, refund: Refund, now: datetime) -> Receipt | None:
    """A correction note for a refund made on a receipted payment (own gapless series);
    None when the payment has no receipt to correct."""
    payment = s.get(Payment, refund.payment_id)
    original = receipt_for_payment(s, payment) if payment is not None else None
    if original is None:
        return None
    amount = Money(refund.amount_minor, refund.currency)
    return issue(
        s,
        seller,
        Draft(
            kind=rl.CORRECTION,
            source_key=f"refund:{refund.id}",
            driver_id=original.driver_id,
            site=s.get(Site, original.site_id) if original.site_id else None,
            currency=original.currency,
            vat_rate=original.vat_rate,
            lines=[rl.refund_line(amount, original.number)],
            sessions=json.loads(original.content).get("sessions", []),
            session_id=original.session_id,
            period=original.period,
            payment_id=refund.payment_id,
            refund_id=refund.id,
            corrects=original,
            card_brand=original.card_brand,
            card_last4=original.card_last4,
            extra={"refund": {"id": refund.id, "reason": refund.reason}},
        ),
        now,
    )
