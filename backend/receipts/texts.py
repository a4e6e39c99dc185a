"""What a receipt says, in Polish, English and Norwegian Bokmål, and how it writes
numbers and times: a decimal comma in Polish and Norwegian, a no-break space between
thousands, dates as the reader writes them, times on the site's wall clock."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from shared.money import Money, exponent, round_half_up

LANGUAGES: Final = ("pl", "en", "nb")
DEFAULT_LANGUAGE: Final = "en"
NBSP: Final = "\u00a0"

# decimal separator, group separator, minimum digits before grouping applies (CLDR)
_NUMBERS: Final = {"en": (".", ",", 4), "pl": (",", NBSP, 5), "nb": (",", NBSP, 4)}
_MONTHS_EN: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)

LABELS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "receipt": "Receipt",
        "correction": "Correction note",
        "service_statement": "Charging service statement",
        "number": "No.",
        "issued": "Issued",
        "seller": "Seller",
        "buyer": "Buyer",
        "tax_id": "Tax ID",
        "site": "Charging site",
        "charge_point": "Charge point",
        "session": "Session",
        "plugged_in": "Plugged in",
        "car_full": "Car full",
        "unplugged": "Unplugged",
        "meter": "Meter start / stop",
        "price_version": "Price version",
        "plan": "Plan",
        "period": "Period",
        "description": "Description",
        "quantity": "Quantity",
        "unit_price": "Unit price",
        "amount": "Amount",
        "energy": "Energy",
        "idle": "Idle fee (car full, billable minutes)",
        "refund": "Refund",
        "net": "Net",
        "vat": "VAT",
        "gross": "Total",
        "prices_gross": "Prices include VAT.",
        "paid_card": "Paid by card",
        "corrects": "Corrects receipt",
        "times_in": "Times are local to the site",
        "not_a_receipt": "Not a receipt: no payment was taken in the app. The charging is "
        "to be invoiced by {operator}.",
        "statement": "Guest charging statement",
        "code": "Code",
        "sessions": "Sessions",
        "total": "Total",
        "driver": "Driver",
    },
    "pl": {
        "receipt": "Rachunek",
        "correction": "Nota korygująca",
        "service_statement": "Zestawienie usługi ładowania",
        "number": "Nr",
        "issued": "Data wystawienia",
        "seller": "Sprzedawca",
        "buyer": "Nabywca",
        "tax_id": "NIP",
        "site": "Lokalizacja",
        "charge_point": "Punkt ładowania",
        "session": "Sesja",
        "plugged_in": "Podłączenie",
        "car_full": "Pojazd naładowany",
        "unplugged": "Odłączenie",
        "meter": "Licznik: początek / koniec",
        "price_version": "Wersja cennika",
        "plan": "Plan taryfowy",
        "period": "Okres",
        "description": "Opis",
        "quantity": "Ilość",
        "unit_price": "Cena jedn.",
        "amount": "Kwota",
        "energy": "Energia",
        "idle": "Opłata postojowa (pojazd naładowany, płatne minuty)",
        "refund": "Zwrot",
        "net": "Netto",
        "vat": "VAT",
        "gross": "Razem brutto",
        "prices_gross": "Ceny zawierają podatek VAT.",
        "paid_card": "Zapłacono kartą",
        "corrects": "Koryguje rachunek",
        "times_in": "Czas lokalny stacji",
        "not_a_receipt": "To nie jest rachunek: w aplikacji nie pobrano płatności. "
        "Ładowanie zafakturuje {operator}.",
        "statement": "Zestawienie ładowań gości",
        "code": "Kod",
        "sessions": "Sesje",
        "total": "Razem",
        "driver": "Kierowca",
    },
    "nb": {
        "receipt": "Kvittering",
        "correction": "Kreditnota",
        "service_statement": "Oversikt over ladetjeneste",
        "number": "Nr.",
        "issued": "Utstedt",
        "seller": "Selger",
        "buyer": "Kjøper",
        "tax_id": "Org.nr.",
        "site": "Ladested",
        "charge_point": "Ladepunkt",
        "session": "Økt",
        "plugged_in": "Tilkoblet",
        "car_full": "Bilen fulladet",
        "unplugged": "Frakoblet",
        "meter": "Måler start / stopp",
        "price_version": "Prisversjon",
        "plan": "Abonnement",
        "period": "Periode",
        "description": "Beskrivelse",
        "quantity": "Antall",
        "unit_price": "Enhetspris",
        "amount": "Beløp",
        "energy": "Energi",
        "idle": "Okkupasjonsgebyr (bilen fulladet, fakturerte minutter)",
        "refund": "Refusjon",
        "net": "Netto",
        "vat": "MVA",
        "gross": "Totalt",
        "prices_gross": "Prisene inkluderer MVA.",
        "paid_card": "Betalt med kort",
        "corrects": "Korrigerer kvittering",
        "times_in": "Lokal tid på ladestedet",
        "not_a_receipt": "Ikke en kvittering: ingen betaling er trukket i appen. Ladingen "
        "faktureres av {operator}.",
        "statement": "Oversikt over gjesters lading",
        "code": "Kode",
        "sessions": "Økter",
        "total": "Totalt",
        "driver": "Sjåfør",
    },
}


def language_of(value: str | None) -> str:
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def label(key: str, language: str, **params: str) -> str:
    text = LABELS[language_of(language)][key]
    return text.format(**params) if params else text


def number(value: Decimal, language: str, places: int | None = None) -> str:
    """`value` written for `language` (fixed `places` if given, else as it is)."""
    point, group, min_grouping = _NUMBERS[language_of(language)]
    fixed = format(value if places is None else round_half_up(value, places), "f")
    sign, fixed = ("-", fixed[1:]) if fixed.startswith("-") else ("", fixed)
    whole, _, fraction = fixed.partition(".")
    if len(whole) >= min_grouping:
        head = len(whole) % 3 or 3
        whole = whole[:head] + "".join(group + whole[i : i + 3] for i in range(head, len(whole), 3))
    return sign + whole + (point + fraction if fraction else "")


def money(amount: Money, language: str) -> str:
    """12,50 PLN / 12.50 PLN — always the currency's minor unit."""
    return f"{number(amount.amount, language, exponent(amount.currency))} {amount.currency}"


def unit_price(value: Decimal, language: str) -> str:
    """A price per unit: at least 2 decimals, more when the price has them (0,4815)."""
    places = max(2, -int(value.normalize().as_tuple().exponent))
    return number(value, language, places)


def quantity(value: Decimal, unit: str, language: str) -> str:
    """kWh to 0.001 (domain.md §5), minutes whole."""
    places = 3 if unit == "kWh" else 0
    return f"{number(value, language, places)} {unit}".strip()


def local_time(moment: datetime, timezone: str, language: str, *, zone: bool = False) -> str:
    """A moment on the site's wall clock: 20.11.2026 21:10 (pl, nb), 20 Nov 2026 21:10."""
    local = moment.astimezone(ZoneInfo(timezone))
    if language_of(language) == "en":
        text = f"{local.day} {_MONTHS_EN[local.month - 1]} {local.year} {local:%H:%M}"
    else:
        text = f"{local:%d.%m.%Y %H:%M}"
    return f"{text} {local.tzname()}" if zone else text


def card(brand: str, last4: str) -> str:
    return f"{brand.capitalize()} **** {last4}" if last4 else ""
