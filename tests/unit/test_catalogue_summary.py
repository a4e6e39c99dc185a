"""The site summary of the catalogue: it may let through a site that does not match,
never rule out one that does (backend.services.catalogue_summary)."""

from __future__ import annotations

import itertools

import pytest

from backend.db.models.enums import PlugType
from backend.services.catalogue_summary import (
    EVERYTHING,
    PLUG_SLOTS,
    POWER_TIERS_W,
    connector_bits,
    site_bits,
    wanted_bits,
)

PLUGS = [p.value for p in PlugType]
# Every tier's floor, a watt either side of it, and ratings in between.
POWERS = sorted({w + d for w in POWER_TIERS_W for d in (-1, 0, 1) if w + d > 0} | {3_700, 400_000})
FILTER_PLUGS = [(), *((p,) for p in PLUGS), ("ccs2", "chademo"), ("type2", "type1", "schuko")]
FILTER_POWERS = [None, 0, 1, *POWERS, 4_000_000]


def matches(connector: tuple[str, int], plugs: tuple[str, ...], min_w: int | None) -> bool:
    plug, watts = connector
    return (not plugs or plug in plugs) and (min_w is None or watts >= min_w)


def test_every_plug_type_has_a_slot_of_its_own():
    assert set(PLUG_SLOTS) == set(PLUGS)
    assert len(set(PLUG_SLOTS.values())) == len(PLUG_SLOTS)


@pytest.mark.parametrize("plugs", FILTER_PLUGS)
def test_a_site_with_a_matching_connector_is_never_ruled_out(plugs):
    for connector, min_w in itertools.product(itertools.product(PLUGS, POWERS), FILTER_POWERS):
        wanted = wanted_bits(plugs, min_w)  # None: nothing to narrow down
        if matches(connector, plugs, min_w) and wanted is not None:
            assert connector_bits(*connector) & wanted, (connector, plugs, min_w)
    assert wanted_bits(plugs, None) is None or plugs


def test_sites_without_a_possible_match_are_ruled_out():
    site = site_bits([("type2", 22_000), ("ccs2", 50_000)])
    assert site & wanted_bits(["type2"], 22_000)
    assert site & wanted_bits(["ccs2", "chademo"], 50_000)
    assert site & wanted_bits([], 50_000)
    # A plug the site lacks, or more power than any of its connectors of that plug.
    assert not site & wanted_bits(["chademo"], None)
    assert not site & wanted_bits(["type2"], 50_000)
    assert not site & wanted_bits([], 100_000)
    # Between two tiers the lower tier decides: 120 kW asks "100 kW or more".
    assert not site & wanted_bits(["ccs2"], 120_000)
    assert site_bits([("ccs2", 110_000)]) & wanted_bits(["ccs2"], 120_000)


def test_no_filter_or_an_unknown_plug_narrows_nothing():
    assert wanted_bits([], None) is None
    assert wanted_bits(["nacs"], 50_000) is None
    # A connector of a plug without a slot lets its site through every filter.
    assert connector_bits("nacs", 7_400) == EVERYTHING
    assert site_bits([("type2", 7_400), ("nacs", 7_400)]) & wanted_bits(["ccs2"], 350_000)
    assert site_bits([]) == 0


def test_bits_fit_a_signed_64_bit_column():
    everything = site_bits(itertools.product(PLUGS, [max(POWERS)]))
    assert 0 < everything < 2**63
