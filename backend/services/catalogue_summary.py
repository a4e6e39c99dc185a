"""What kinds of connectors a site has, in one number the catalogue filters on.

A search with a plug or power filter must find, for each point in the circle, one
connector that meets every filter (catalogue_sql). That probe costs more than anything
else in a search, and a selective filter ("CCS of 150 kW and more") makes the search
probe every point of the circle for few matches. ``sites.connector_bits`` lets it skip
most sites inside the index scan, before any probe:

- one bit per (plug type, power tier): bit ``8 * slot + tier`` is set when the site has
  a connector of that plug with at least ``POWER_TIERS_W[tier]`` watts, so the tiers of
  a plug are cumulative (a 150 kW CCS sets the CCS bits of 0, 7.4, 11, 22, 50, 100 and
  150 kW);
- a filter asks for one bit per plug wanted (all plugs when none is named) at the
  highest tier the asked power reaches: a site without any of those bits has no
  matching connector, whatever the power asked between two tiers;
- it is a prefilter only: the exact per-connector test still decides for the sites it
  lets through, so bits that claim too much (a connector since lowered or removed) cost
  a probe, never a wrong answer. Bits that claim too little would hide a point: every
  change to a site's connectors must call `refresh_site`;
- NULL means "not summarised" and lets everything through (rows written by hand, in
  tests, before the summary existed).

All charge points count, commissioned or not: commissioning then needs no refresh.
The layout is stored data: changing a slot or a tier needs a migration that recomputes
every site.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import ChargePoint, Connector, Site

# Fixed slots, not the enum's order: reordering PlugType must not reshuffle stored bits.
PLUG_SLOTS = {"type2": 0, "ccs2": 1, "chademo": 2, "type1": 3, "schuko": 4}
# Common ratings and filter values; a filter between two tiers uses the lower one.
POWER_TIERS_W = (0, 7_400, 11_000, 22_000, 50_000, 100_000, 150_000, 300_000)
TIER_BITS = 8  # bits per plug: 8 slots of 8 fit a signed 64-bit integer
EVERYTHING = -1  # all bits: a plug without a slot never rules a site out
assert len(POWER_TIERS_W) <= TIER_BITS and len(PLUG_SLOTS) * TIER_BITS <= 63


def _tier(watts: int) -> int:
    """The highest tier ``watts`` reaches."""
    return max(n for n, floor in enumerate(POWER_TIERS_W) if watts >= floor)


def connector_bits(plug_type: str, max_power_w: int) -> int:
    """The bits one connector sets."""
    slot = PLUG_SLOTS.get(plug_type)
    if slot is None:
        return EVERYTHING
    return ((1 << (_tier(max_power_w) + 1)) - 1) << (slot * TIER_BITS)


def site_bits(connectors: Iterable[tuple[str, int]]) -> int:
    """The bits of a site with these (plug type, watts) connectors; 0 without any."""
    bits = 0
    for plug_type, watts in connectors:
        bits |= connector_bits(plug_type, watts)
    return bits


def wanted_bits(plug_types: Iterable[str], min_power_w: int | None) -> int | None:
    """The bits a site needs (any one of them) to possibly match these filters; None
    when they cannot narrow anything down (no filter, or a plug without a slot)."""
    plugs = list(plug_types)
    if not plugs and min_power_w is None:
        return None
    slots = [PLUG_SLOTS.get(p) for p in plugs] if plugs else list(PLUG_SLOTS.values())
    if any(slot is None for slot in slots):
        return None
    tier = _tier(max(min_power_w or 0, 0))
    bits = 0
    for slot in slots:
        bits |= 1 << (slot * TIER_BITS + tier)  # type: ignore[operator]
    return bits


def refresh_site(s: Session, site_id: int) -> None:
    """Recompute a site's bits from its connectors, after they changed (flushed, in the
    same transaction). The site's row is locked first, so two transactions changing
    connectors of one site each count the other's once it has committed."""
    s.execute(select(Site.id).where(Site.id == site_id).with_for_update())
    rows = s.execute(
        select(Connector.plug_type, Connector.max_power_w)
        .join(ChargePoint, ChargePoint.id == Connector.charge_point_id)
        .where(ChargePoint.site_id == site_id)
    ).all()
    site = s.get(Site, site_id)
    if site is not None:
        site.connector_bits = site_bits((r.plug_type, r.max_power_w) for r in rows)
