"""What drivers see of prices: the price that applies to them at a charge point, a
preview of a session's cost, and each site's tariffs in OCPI 2.2.1 form."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from backend.api.context import container, db, optional_principal
from backend.api.pricing_schemas import PreviewArgs, PreviewSchema, QuoteSchema
from backend.db.models import PriceGroup
from backend.errors import InvalidInput
from backend.services import ocpi, plans, pricing, quotes
from backend.services.visibility import Viewer, require_site_access
from shared.pricing import PricingError

blp = Blueprint("prices", __name__, description="Prices drivers pay")


def _money(m) -> str:  # type: ignore[no-untyped-def]
    return f"{m.amount:.2f}"


def _quote(q: quotes.Quote) -> dict[str, object]:
    v = q.version
    window = (
        {
            "start": f"{v.idle_window.start:%H:%M}",
            "end": f"{v.idle_window.end:%H:%M}",
            "timezone": v.idle_window.timezone,
        }
        if v.idle_window
        else None
    )
    plan = (
        {
            "code": q.plan.code,
            "name": q.plan.name,
            "price_per_kwh": str(q.plan.price_per_kwh),
            "monthly_fee": str(q.plan.monthly_fee),
        }
        if q.plan
        else None
    )
    group = q.price_group
    return {
        "charge_point_id": q.charge_point_id,
        "site_id": q.site_id,
        "currency": q.currency,
        "vat_rate": q.vat_rate,
        "model": v.model.value,
        "member": q.member,
        "price_group": {"id": group.id, "name": group.name, "kind": group.kind} if group else None,
        "plan": plan,
        "plan_required": q.plan_required,
        "energy_per_kwh": q.energy_per_kwh,
        "idle_per_minute": v.idle_per_minute,
        "idle_window": window,
        "idle_grace_minutes": v.idle_grace_minutes,
        "billing_mode": q.row.billing_mode,
        "price_version": v.version_id,
        "warnings": q.warnings,
    }


def _viewer() -> Viewer:
    return Viewer.of(optional_principal())


@blp.route("/charge-points/<int:charge_point_id>/price")
class ChargePointPrice(MethodView):
    @blp.response(200, QuoteSchema)
    def get(self, charge_point_id):  # type: ignore[no-untyped-def]
        """The price that applies to the caller here: their plan at platform-priced
        stations, their price group elsewhere. Anyone may call (anonymous callers see the
        public price); private points answer 404 to non-members."""
        return _quote(quotes.quote(db(), _viewer(), charge_point_id, container().clock()))


@blp.route("/charge-points/<int:charge_point_id>/price-preview")
class PricePreview(MethodView):
    @blp.arguments(PreviewArgs, location="query")
    @blp.response(200, PreviewSchema)
    def get(self, args, charge_point_id):  # type: ignore[no-untyped-def]
        """What `kwh` would cost the caller, plus `idle_minutes` of idle time after the car
        is full if they leave it plugged in (the idle window and grace apply, starting
        now). Anyone may call."""
        now = container().clock()
        q = quotes.quote(db(), _viewer(), charge_point_id, now)
        try:
            priced = quotes.preview(q, args["kwh"], args["idle_minutes"], now)
        except PricingError as exc:
            raise InvalidInput(str(exc)) from exc
        return {
            "quote": _quote(q),
            "energy_kwh": priced.energy_kwh,
            "lines": [
                {
                    "kind": x.kind,
                    "description": x.description,
                    "quantity": x.quantity,
                    "unit": x.unit,
                    "unit_price": x.unit_price,
                    "amount": _money(x.amount),
                }
                for x in priced.lines
            ],
            "billable_idle_minutes": priced.idle.billable_minutes if priced.idle else 0,
            "gross": _money(priced.gross),
            "net": _money(priced.split.net),
            "vat": _money(priced.split.vat),
            "currency": q.currency,
        }


@blp.route("/sites/<int:site_id>/tariffs/ocpi")
class OcpiTariffs(MethodView):
    @blp.response(
        200,
        content_type="application/json",
        description="OCPI 2.2.1 response: data is a list of Tariff objects",
    )
    def get(self, site_id):  # type: ignore[no-untyped-def]
        """The site's tariffs as OCPI 2.2.1 Tariff objects (one per price group and price
        version still in force or scheduled), for roaming partners. Anyone may call for
        public and semi-public sites."""
        now = container().clock()
        site = require_site_access(db(), Viewer(), site_id, now).site
        rows = pricing.history(db(), site.id)
        by_group: dict[int, list] = {}  # type: ignore[type-arg]
        for r in rows:
            by_group.setdefault(r.price_group_id, []).append(r)
        payg = next(
            (p for p in plans.list_plans(db(), site.currency) if p.code == plans.PAY_PER_USE), None
        )
        data = []
        for group_id, versions in by_group.items():
            versions.sort(key=lambda r: (r.effective_from, r.revision))
            group = db().get(PriceGroup, group_id)
            for i, r in enumerate(versions):
                nxt = versions[i + 1].effective_from if i + 1 < len(versions) else None
                if (nxt is not None and nxt <= now) or group is None:
                    continue  # superseded: no longer of interest to a partner
                data.append(ocpi.tariff(site, group, r, nxt, payg.price_per_kwh if payg else None))
        body = {
            "data": data,
            "status_code": 1000,
            "status_message": "Success",
            "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        return Response(ocpi.dumps(body), mimetype="application/json")
