"""How the notification texts write numbers, amounts, counts and periods for each reader.

Numbers are written the way the reader writes them: a decimal comma in Polish and
Norwegian, a no-break space between thousands (Polish groups from five digits on, as
CLDR says), energy to 2 decimals (rounded half up) and amounts in their currency's minor
unit followed by the currency code. Counts take the right plural form (Polish has three).
Unknown languages fall back to English.

Split out of notification_texts (which re-exports all of it) to keep each module small.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

from shared.money import Money, exponent, round_half_up

LANGUAGES = ("pl", "en", "nb")
DEFAULT_LANGUAGE = "en"
NBSP = "\u00a0"


# decimal separator, group separator, minimum grouping digits (CLDR)
_NUMBERS = {"en": (".", ",", 1), "pl": (",", NBSP, 2), "nb": (",", NBSP, 1)}

_MONTHS = {
    "en": "January February March April May June July August September October November December",
    "pl": "styczeń luty marzec kwiecień maj czerwiec lipiec sierpień wrzesień październik "
    "listopad grudzień",
    "nb": "januar februar mars april mai juni juli august september oktober november desember",
}

# (one, few, many) — English and Norwegian use only one/other; "few" = "many" for them.
_UNITS = {
    "hour": {
        "en": ("hour", "hours", "hours"),
        "pl": ("godzinę", "godziny", "godzin"),
        "nb": ("time", "timer", "timer"),
    },
    "minute": {
        "en": ("minute", "minutes", "minutes"),
        "pl": ("minutę", "minuty", "minut"),
        "nb": ("minutt", "minutter", "minutter"),
    },
}


def language_of(value: str | None) -> str:
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def number(value: Decimal, places: int, language: str) -> str:
    """`value` rounded half up to `places` decimals, written for `language`."""
    point, group, min_grouping = _NUMBERS[language_of(language)]
    fixed = format(round_half_up(value, places), "f")
    sign, fixed = ("-", fixed[1:]) if fixed.startswith("-") else ("", fixed)
    whole, _, fraction = fixed.partition(".")
    if len(whole) >= 3 + min_grouping:
        head = len(whole) % 3 or 3
        whole = whole[:head] + "".join(group + whole[i : i + 3] for i in range(head, len(whole), 3))
    return sign + whole + (point + fraction if fraction else "")


def energy(kwh: Decimal, language: str) -> str:
    return number(kwh, 2, language)


def money(amount: Money, language: str) -> str:
    return f"{number(amount.amount, exponent(amount.currency), language)} {amount.currency}"


def plural_form(n: int, language: str) -> int:
    """0: one, 1: few, 2: many (CLDR cardinal rules for integers)."""
    if n == 1:
        return 0
    if language == "pl" and n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        return 1
    return 2


def count(n: int, unit: str, language: str) -> str:
    lang = language_of(language)
    return f"{n} {_UNITS[unit][lang][plural_form(n, lang)]}"


def period(start: date, end: date, language: str) -> str:
    """A calendar month by its name ("październik 2026"), any other period as dates."""
    lang = language_of(language)
    last_of_month = date.fromordinal(end.toordinal() + 1).day == 1
    if start.day == 1 and last_of_month and (start.year, start.month) == (end.year, end.month):
        return f"{_MONTHS[lang].split()[start.month - 1]} {start.year}"
    if lang == "en":
        months = _MONTHS["en"].split()  # not %b: that follows the process's locale
        return (
            f"{start.day} {months[start.month - 1]} {start.year} – "
            f"{end.day} {months[end.month - 1]} {end.year}"
        )
    return f"{start.day}.{start.month:02d}.{start.year}–{end.day}.{end.month:02d}.{end.year}"


def hours_until(seconds: float) -> int:
    """Whole hours, rounded to the nearest, at least one (for "ends in N hours")."""
    return max(1, math.floor(seconds / 3600 + 0.5))
