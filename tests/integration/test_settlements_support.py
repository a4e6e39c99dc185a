"""Arranging settlement tests (no tests here): operators under contract, sessions billed
through the real billing service (card payments on the in-memory fake of our payment
port), refunds through the refund service, and the settlement API's answers.

Everything a settlement counts is produced by the services that make it in production:
ended sessions → `SessionBilling.bill_ended_session` → session charges and receipts;
`payment_refunds.refund` → refunds; `SessionBilling.issue_corrections` → correction
notes. Only the rows the bridge writes (ended charging sessions) and the catalogue
(operators, sites, charge points, prices) are inserted directly, as the billing tests do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.adapters.fake_payments import FakeGateway
from backend.db.models import Notification, OperatorContract, Receipt, SessionCharge, User
from backend.db.models.enums import BusinessCase, Role
from backend.db.models.settlements import Payout, Settlement, SettlementItem
from backend.services import contracts, payment_refunds
from shared.money import Money
from tests import factories as f
from tests.integration.test_billing_support import (
    Place,
    card,
    driver,
    ended_session,
    local,
    place,
)

# Charge points exist long before the months settled here (the fixed fee is per charge
# point under contract in the month; the row's default would be the wall clock's today).
INSTALLED = datetime(2026, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@dataclass
class Operator:
    """An operator with one site, its charge points, a contract, and a staff member."""

    place: Place
    staff: User
    contract: OperatorContract

    @property
    def id(self) -> int:
        return self.place.setup.operator.id

    @property
    def url(self) -> str:
        return f"/operators/{self.id}/settlements"


def contract(
    s: Session,
    operator_id: int,
    case: str,
    *,
    valid_from: date = date(2026, 1, 1),
    valid_to: date | None = None,
    fee_percent: str = "0",
    fee_fixed_per_cp: str = "0",
    fee_per_kwh: str = "0",
    agreed: str | None = None,
) -> OperatorContract:
    """A contract recorded through the contracts service (as POST /contracts does)."""
    return contracts.create_contract(
        s,
        operator_id,
        contracts.NewContract(
            business_case=BusinessCase(case),
            valid_from=valid_from,
            valid_to=valid_to,
            fee_percent=Decimal(fee_percent),
            fee_fixed_per_cp=fee_fixed_per_cp,
            fee_per_kwh_net=Decimal(fee_per_kwh),
            agreed_price_per_kwh_net=Decimal(agreed) if agreed is not None else None,
        ),
        utc(2026, 1, 1),
    )


def operator(
    s: Session,
    case: str,
    *,
    name: str = "Operator",
    charge_points: int = 1,
    country: str = "PL",
    timezone: str = "Europe/Warsaw",
    **terms: Any,
) -> Operator:
    p = place(s, name=name, country=country, timezone=timezone)
    cps = [p.cp] + [f.charge_point(s, p.site) for _ in range(charge_points - 1)]
    for cp in cps:
        cp.created_at = INSTALLED
    staff = f.user(s, Role.OPERATOR_STAFF, operator_id=p.setup.operator.id)
    s.commit()
    return Operator(p, staff, contract(s, p.setup.operator.id, case, **terms))


def paying_driver(s: Session, gw: FakeGateway, name: str = "Zażółć Gęślą") -> User:
    u = driver(s, name=name)
    card(s, gw, u)
    return u


def billed(
    s: Session,
    billing: Any,
    op: Operator,
    u: User | None,
    *,
    end: datetime,
    wh: int,
    hours: int = 4,
    group: Any = None,
    code: Any = None,
    now: datetime | None = None,
) -> SessionCharge:
    """A session that ended at `end` (after `hours` of charging), billed as the
    session-ended port bills it (`now`: when; by default an hour after its end)."""
    from datetime import timedelta

    row = ended_session(
        s,
        op.place,
        u,
        start=end - timedelta(hours=hours),
        end=end,
        wh=wh,
        group=group,
        code=code,
    )
    return billing.bill_ended_session(s, row.id, now or end + timedelta(hours=1))


def refund(
    s: Session,
    gw: FakeGateway,
    op: Operator,
    charge: SessionCharge,
    amount: str,
    now: datetime,
) -> Any:
    """Operator staff give back `amount` of a session's payment (the refund service)."""
    actor = payment_refunds.Actor(op.staff.id, Role.OPERATOR_STAFF, op.id)
    return payment_refunds.refund(
        s, gw, actor, charge.payment_id, Money.of(amount, "PLN"), "Charger stopped early", now
    )


def receipt_of(s: Session, charge: SessionCharge) -> Receipt:
    s.refresh(charge)
    return s.get(Receipt, charge.receipt_id)


# --- the API ---------------------------------------------------------------------------------


def post(client: Any, headers: dict[str, str], op_id: int, period: str) -> Any:
    return client.post(f"/operators/{op_id}/settlements", json={"period": period}, headers=headers)


def settled(client: Any, headers: dict[str, str], op_id: int, period: str) -> dict[str, Any]:
    """POST the period as a platform admin: a new settlement (201)."""
    r = post(client, headers, op_id, period)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def items(client: Any, headers: dict[str, str], op_id: int, settlement_id: int) -> list[dict]:
    r = client.get(
        f"/operators/{op_id}/settlements/{settlement_id}/items?page_size=500", headers=headers
    )
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def totals(body: dict[str, Any]) -> tuple[str, str, str, str]:
    return body["direction"], body["net"], body["vat"], body["gross"]


LINE_KINDS = (  # checked in order: a fee line may mention the revenue it is a share of
    ("network fee", "fee"),
    ("net revenue", "revenue"),
    ("refunds", "refunds"),
    ("balance brought forward", "balance"),
    ("agreed", "agreed"),
)


def lines(body: dict[str, Any]) -> list[tuple[str, str]]:
    """The settlement's lines as (what, amount): the wording is the lead's to choose,
    what each line is and its amount are not."""

    def kind(description: str) -> str:
        found = [k for word, k in LINE_KINDS if word in description]
        assert found, description
        return found[0]

    return [(kind(x["description"]), x["amount"]) for x in body["lines"]]


def count(s: Session, model: Any, *where: Any) -> int:
    s.expire_all()
    return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def settlements_of(s: Session, op_id: int) -> list[Settlement]:
    s.expire_all()
    return list(
        s.scalars(
            select(Settlement).where(Settlement.operator_id == op_id).order_by(Settlement.period)
        )
    )


def written(s: Session) -> tuple[int, int, int]:
    """How many settlements, items and payouts exist at all."""
    return count(s, Settlement), count(s, SettlementItem), count(s, Payout)


def ready_notes(s: Session, user_id: int) -> list[Notification]:
    s.expire_all()
    return list(
        s.scalars(
            select(Notification)
            .where(Notification.user_id == user_id, Notification.kind == "settlement_ready")
            .order_by(Notification.id)
        )
    )


__all__ = ["card", "driver", "local"]
