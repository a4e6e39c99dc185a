"""Demo prices and plans: each business case priced the way domain.md §6 shows it.

Loaded through the pricing services, so the demo obeys the same rules as an operator.
A site that already has prices is left alone (loading twice adds nothing).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import Operator, PriceGroup, Site
from backend.db.models.pricing import Plan
from backend.db.models.pricing import PriceVersion as PriceRow
from backend.services import plans, pricing

# name, currency, price per kWh (gross), monthly fee (gross)
PLANS = (
    (plans.PAY_PER_USE, "Pay per use", "PLN", "2.59", "0"),
    ("plus", "Wattpass Plus", "PLN", "1.99", "29.00"),
    (plans.PAY_PER_USE + "-nok", "Betal per bruk", "NOK", "5.90", "0"),
)

# operator name → {price group name: PriceChange fields}
HOTEL_IDLE = {
    "model": "fixed_with_idle",
    "energy_per_kwh": "2.40",
    "idle_per_minute": "0.50",
    "idle_window_start": "08:00",
    "idle_window_end": "22:00",
}
PRICES: dict[str, dict[str, dict[str, str]]] = {
    "Osiedle Zielone Tarasy": {"Mieszkańcy": {"model": "fixed", "energy_per_kwh": "1.50"}},
    "Hotel Pod Wawelem Garden": {"Goście hotelowi": HOTEL_IDLE},
    "Galeria Warta": {"Publiczna": {"model": "platform_plan"}},
    "Politechnika Bałtycka": {
        "Pracownicy": {"model": "fixed", "energy_per_kwh": "1.20"},
        "Publiczna": {"model": "fixed", "energy_per_kwh": "2.20"},
    },
    "Tøyen Park Borettslag": {"Andelseiere": {"model": "fixed", "energy_per_kwh": "3.50"}},
}


def load_prices(s: Session, now: datetime) -> None:
    existing = set(s.scalars(select(Plan.code)))
    for code, name, currency, per_kwh, fee in PLANS:
        if code not in existing:
            plans.create_plan(s, code, name, currency, Decimal(per_kwh), Decimal(fee))
    for operator_name, groups in PRICES.items():
        op = s.scalar(select(Operator).where(Operator.name == operator_name))
        if op is None:
            continue
        for site in s.scalars(select(Site).where(Site.operator_id == op.id)).all():
            if s.scalar(select(PriceRow.id).where(PriceRow.site_id == site.id).limit(1)):
                continue
            for group_name, fields in groups.items():
                group = s.scalar(
                    select(PriceGroup).where(
                        PriceGroup.operator_id == op.id, PriceGroup.name == group_name
                    )
                )
                if group is None:
                    continue
                change = pricing.PriceChange(
                    price_group_id=group.id,
                    model=fields["model"],
                    energy_per_kwh=Decimal(fields.get("energy_per_kwh", "0")),
                    idle_per_minute=Decimal(fields.get("idle_per_minute", "0")),
                    idle_window_start=fields.get("idle_window_start"),
                    idle_window_end=fields.get("idle_window_end"),
                )
                pricing.set_price(s, site, change, None, now)
