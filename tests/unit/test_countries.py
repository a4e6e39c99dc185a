"""What a site's country implies (domain.md §5): currency, VAT, time zone, language."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared import countries


def test_poland_is_pln_23_percent_warsaw_polish() -> None:
    pl = countries.country("PL")
    assert (pl.currency, pl.vat_rate, pl.timezone, pl.language) == (
        "PLN",
        Decimal("0.23"),
        "Europe/Warsaw",
        "pl",
    )


def test_norway_is_nok_25_percent_oslo_bokmal() -> None:
    no = countries.country("NO")
    assert (no.currency, no.vat_rate, no.timezone, no.language) == (
        "NOK",
        Decimal("0.25"),
        "Europe/Oslo",
        "nb",
    )


def test_vat_rates_are_exact_decimals() -> None:
    for c in countries.COUNTRIES.values():
        assert isinstance(c.vat_rate, Decimal)
        assert 0 < c.vat_rate < 1


@pytest.mark.parametrize("code", ["DE", "SE", "pl", "", "POL"])
def test_other_countries_are_refused_with_the_supported_ones_named(code: str) -> None:
    with pytest.raises(countries.UnsupportedCountry) as err:
        countries.country(code)
    message = str(err.value)
    assert "Poland (PL)" in message and "Norway (NO)" in message
    assert repr(code) in message


def test_supported_lists() -> None:
    assert countries.supported() == ["NO", "PL"]
    assert countries.supported_currencies() == ["NOK", "PLN"]


def test_every_default_zone_is_valid() -> None:
    for c in countries.COUNTRIES.values():
        assert countries.time_zone(c.timezone) == c.timezone


@pytest.mark.parametrize("name", ["Europe/Warsaw", "Europe/Oslo", "UTC", "America/New_York"])
def test_iana_zones_accepted(name: str) -> None:
    assert countries.time_zone(name) == name


@pytest.mark.parametrize(
    "name", ["Mars/Olympus", "europe/warsaw", "localtime", "Poland", "../etc/passwd", ""]
)
def test_unknown_or_machine_dependent_zones_refused(name: str) -> None:
    with pytest.raises(countries.UnknownTimeZone):
        countries.time_zone(name)
