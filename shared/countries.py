"""What a site's country implies: currency, VAT rate, default time zone and language.

domain.md §5: the VAT rate and the currency of a site come from its country (PL 23% PLN,
NO 25% NOK); a client never sends them. The table below is data: supporting another
country is one more row (e.g. ``"DE": Country("DE", "Germany", "EUR", Decimal("0.19"),
"Europe/Berlin", "de")`` once `shared.money` knows EUR and the app speaks German).
Anything not in the table is refused, so no site is ever priced with a guessed VAT rate.
"""

from __future__ import annotations

import functools
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Final


@dataclass(frozen=True)
class Country:
    code: str  # ISO 3166-1 alpha-2
    name: str
    currency: str  # ISO 4217
    vat_rate: Decimal  # standard rate as a fraction: 0.23 is 23%
    timezone: str  # IANA zone a new site gets unless told otherwise
    language: str  # ISO 639-1 language of the app's texts for this country


COUNTRIES: Final[dict[str, Country]] = {
    c.code: c
    for c in (
        Country("PL", "Poland", "PLN", Decimal("0.23"), "Europe/Warsaw", "pl"),
        Country("NO", "Norway", "NOK", Decimal("0.25"), "Europe/Oslo", "nb"),
    )
}


class UnsupportedCountry(ValueError):
    """A country Wattpass does not operate in (yet)."""


class UnknownTimeZone(ValueError):
    """A name that is not an IANA time zone."""


def supported() -> list[str]:
    return sorted(COUNTRIES)


def supported_currencies() -> list[str]:
    return sorted({c.currency for c in COUNTRIES.values()})


def country(code: str) -> Country:
    """The rules of a supported country; ``code`` is matched exactly (upper case)."""
    found = COUNTRIES.get(code)
    if found is None:
        names = ", ".join(f"{c.name} ({c.code})" for c in COUNTRIES.values())
        raise UnsupportedCountry(
            f"Wattpass operates in {names} for now; {code!r} is not supported yet."
        )
    return found


@functools.cache
def _zones() -> frozenset[str]:
    # ZoneInfo() alone would also open files like "localtime" (this machine's zone) from
    # the system database; a site's zone must mean the same on every machine. Legacy
    # aliases without a region ("Poland", "CET", "EST5EDT") are refused too: their rules
    # are not a place's, so "Area/Location" names (and UTC) only.
    return frozenset(z for z in zoneinfo.available_timezones() if "/" in z) | {"UTC"}


def time_zone(name: str) -> str:
    """``name`` if it is an IANA time zone (e.g. Europe/Warsaw), else UnknownTimeZone."""
    if name not in _zones():
        raise UnknownTimeZone(f"{name!r} is not a time zone; use an IANA name like Europe/Warsaw.")
    return name
