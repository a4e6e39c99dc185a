"""What an operator's settlement document says, in Polish, English and Norwegian Bokmål.

Kept apart from texts.py (the drivers' receipts): a settlement is a B2B document with
its own vocabulary. Numbers, money and dates are written by texts.py's functions, so a
settlement reads like a receipt (decimal comma in pl/nb, no-break space in thousands).

The settlement's lines are stored as the arithmetic wrote them (shared.settlement, in
English, e.g. "network fee 5% of net revenue"): `line` recognises each known shape and
says it in the reader's language, with its numbers written the reader's way; a line of
an unknown shape is printed as stored rather than dropped.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final

from backend.receipts import texts

LABELS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "title_payout": "Settlement statement – payout to the operator",
        "title_invoice": "Invoice for the network management fee",
        "title_carried": "Settlement – balance carried forward",
        "title_none": "Settlement statement",
        "note_payout": "Self-billing statement: issued by the platform, it states what the "
        "platform owes the operator for the period.",
        "note_invoice": "The platform bills the operator its fee for the period.",
        "note_carried": "Refunds exceeded revenue: the negative balance is carried into the "
        "next settlement; nothing is paid or billed now.",
        "note_none": "Nothing is owed either way for this period.",
        "payer": "Payer (issuer)",
        "payee": "Payee",
        "platform": "Platform",
        "operator": "Operator",
        "trade_name": "Trading as",
        "contract": "Contract terms as applied",
        "business_case": "Business case",
        "fee_percent": "Fee, share of net revenue",
        "fee_fixed": "Fee per charge point per month",
        "fee_per_kwh": "Fee per kWh",
        "agreed": "Agreed price per kWh (net)",
        "valid": "Contract valid",
        "charge_points": "Charge points under contract",
        "energy": "Energy delivered",
        "revenue": "Net revenue",
        "fee": "Network fee (net)",
        "lines": "Settlement",
        "vat_rate": "VAT rate",
        "carried": "Balance carried forward",
        "payout": "Payout",
        "status": "Status",
        "method": "Method",
        "reference": "Reference",
        "paid_at": "Paid on",
        "items": "Items settled",
        "kind": "Item",
        "session": "Session",
        "origin": "Period",
        "count": "{n} items",
        "page": "page {page}/{pages}",
    },
    "pl": {
        "title_payout": "Rozliczenie – wypłata dla operatora",
        "title_invoice": "Faktura za opłatę za zarządzanie siecią",
        "title_carried": "Rozliczenie – saldo przeniesione na kolejny okres",
        "title_none": "Rozliczenie",
        "note_payout": "Zestawienie wystawione przez platformę (samofakturowanie): kwota, "
        "którą platforma jest winna operatorowi za okres.",
        "note_invoice": "Platforma obciąża operatora opłatą za okres.",
        "note_carried": "Zwroty przekroczyły przychód: ujemne saldo przechodzi do kolejnego "
        "rozliczenia; teraz nic nie jest wypłacane ani fakturowane.",
        "note_none": "Za ten okres żadna ze stron nic nie jest winna.",
        "payer": "Płatnik (wystawca)",
        "payee": "Odbiorca płatności",
        "platform": "Platforma",
        "operator": "Operator",
        "trade_name": "Nazwa handlowa",
        "contract": "Zastosowane warunki umowy",
        "business_case": "Model współpracy",
        "fee_percent": "Opłata, udział w przychodzie netto",
        "fee_fixed": "Opłata za punkt ładowania miesięcznie",
        "fee_per_kwh": "Opłata za kWh",
        "agreed": "Uzgodniona cena za kWh (netto)",
        "valid": "Umowa obowiązuje",
        "charge_points": "Punkty ładowania objęte umową",
        "energy": "Dostarczona energia",
        "revenue": "Przychód netto",
        "fee": "Opłata za zarządzanie siecią (netto)",
        "lines": "Rozliczenie",
        "vat_rate": "Stawka VAT",
        "carried": "Saldo przeniesione",
        "payout": "Wypłata",
        "status": "Status",
        "method": "Sposób",
        "reference": "Tytuł / numer",
        "paid_at": "Data wypłaty",
        "items": "Rozliczone pozycje",
        "kind": "Pozycja",
        "session": "Sesja",
        "origin": "Okres",
        "count": "Pozycji: {n}",
        "page": "strona {page}/{pages}",
    },
    "nb": {
        "title_payout": "Oppgjør – utbetaling til operatøren",
        "title_invoice": "Faktura for gebyr for nettverksforvaltning",
        "title_carried": "Oppgjør – saldo overført til neste periode",
        "title_none": "Oppgjør",
        "note_payout": "Selvfakturert oppgjør: utstedt av plattformen, viser hva plattformen "
        "skylder operatøren for perioden.",
        "note_invoice": "Plattformen fakturerer operatøren sitt gebyr for perioden.",
        "note_carried": "Refusjonene oversteg inntektene: den negative saldoen overføres til "
        "neste oppgjør; ingenting utbetales eller faktureres nå.",
        "note_none": "Ingen av partene skylder noe for denne perioden.",
        "payer": "Betaler (utsteder)",
        "payee": "Mottaker",
        "platform": "Plattform",
        "operator": "Operatør",
        "trade_name": "Handelsnavn",
        "contract": "Avtalevilkår som er brukt",
        "business_case": "Forretningsmodell",
        "fee_percent": "Gebyr, andel av netto inntekt",
        "fee_fixed": "Gebyr per ladepunkt per måned",
        "fee_per_kwh": "Gebyr per kWh",
        "agreed": "Avtalt pris per kWh (netto)",
        "valid": "Avtalen gjelder",
        "charge_points": "Ladepunkter under avtalen",
        "energy": "Levert energi",
        "revenue": "Netto inntekt",
        "fee": "Gebyr for nettverksforvaltning (netto)",
        "lines": "Oppgjør",
        "vat_rate": "MVA-sats",
        "carried": "Saldo overført",
        "payout": "Utbetaling",
        "status": "Status",
        "method": "Metode",
        "reference": "Referanse",
        "paid_at": "Utbetalt",
        "items": "Oppgjorte poster",
        "kind": "Post",
        "session": "Økt",
        "origin": "Periode",
        "count": "{n} poster",
        "page": "side {page}/{pages}",
    },
}

# Item kinds, payout methods and statuses (stored as these English words).
WORDS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "receipt": "Receipt",
        "refund": "Refund",
        "session": "Session",
        "balance": "Balance",
        "stripe": "Stripe transfer",
        "bank": "Bank transfer",
        "pending": "pending",
        "to_transfer": "to be transferred",
        "paid": "paid",
        "failed": "failed",
    },
    "pl": {
        "receipt": "Rachunek",
        "refund": "Zwrot",
        "session": "Sesja",
        "balance": "Saldo",
        "stripe": "Przelew Stripe",
        "bank": "Przelew bankowy",
        "pending": "w toku",
        "to_transfer": "do przelania",
        "paid": "wypłacono",
        "failed": "nieudana",
    },
    "nb": {
        "receipt": "Kvittering",
        "refund": "Refusjon",
        "session": "Økt",
        "balance": "Saldo",
        "stripe": "Stripe-overføring",
        "bank": "Bankoverføring",
        "pending": "venter",
        "to_transfer": "skal overføres",
        "paid": "utbetalt",
        "failed": "feilet",
    },
}

# The line shapes shared.settlement writes, and each said in pl and nb ({0}, {1}: the
# numbers of the line, written by `texts.number`). English keeps the stored wording.
_NUM = r"(-?\d+(?:\.\d+)?)"
_LINES: Final[list[tuple[re.Pattern[str], dict[str, str]]]] = [
    (
        re.compile(r"^net revenue of sessions$"),
        {"pl": "Przychód netto z sesji", "nb": "Netto inntekt fra økter"},
    ),
    (
        re.compile(r"^net revenue collected by card for the operator$"),
        {
            "pl": "Przychód netto pobrany kartą na rzecz operatora",
            "nb": "Netto inntekt innkrevd med kort for operatøren",
        },
    ),
    (
        re.compile(r"^refunds to drivers$"),
        {"pl": "Zwroty dla kierowców", "nb": "Refusjoner til sjåfører"},
    ),
    (
        re.compile(rf"^network fee {_NUM}% of net revenue$"),
        {
            "pl": "Opłata za zarządzanie siecią {0} % przychodu netto",
            "nb": "Gebyr for nettverksforvaltning {0} % av netto inntekt",
        },
    ),
    (
        re.compile(rf"^network fee {_NUM} charge point\(s\) × {_NUM} month\(s\)$"),
        {
            "pl": "Opłata za zarządzanie siecią: punkty ładowania {0} × miesiące {1}",
            "nb": "Gebyr for nettverksforvaltning: {0} ladepunkt × {1} måned(er)",
        },
    ),
    (
        re.compile(rf"^network fee {_NUM} kWh × {_NUM}$"),
        {
            "pl": "Opłata za zarządzanie siecią {0} kWh × {1}",
            "nb": "Gebyr for nettverksforvaltning {0} kWh × {1}",
        },
    ),
    (
        re.compile(rf"^{_NUM} kWh × {_NUM} agreed$"),
        {"pl": "{0} kWh × {1} wg uzgodnionej ceny", "nb": "{0} kWh × {1} etter avtalt pris"},
    ),
    (
        re.compile(r"^balance brought forward$"),
        {"pl": "Saldo z poprzedniego rozliczenia", "nb": "Saldo fra forrige oppgjør"},
    ),
]


def label(key: str, language: str, **params: object) -> str:
    text = LABELS[texts.language_of(language)][key]
    return text.format(**params) if params else text


def word(value: str, language: str) -> str:
    """An item kind, payout method or status; an unknown one as stored."""
    return WORDS[texts.language_of(language)].get(value, value)


def title(direction: str, language: str) -> str:
    """The document's title by which way the money goes (payout, invoice, carried)."""
    return label(_by_direction("title", direction), language)


def note(direction: str, language: str) -> str:
    return label(_by_direction("note", direction), language)


def _by_direction(prefix: str, direction: str) -> str:
    key = f"{prefix}_{direction}"
    return key if key in LABELS["en"] else f"{prefix}_none"


def line(description: str, language: str) -> str:
    """A stored settlement line in the reader's language (see the module docstring)."""
    lang = texts.language_of(language)
    if lang == "en":
        return description[:1].upper() + description[1:]
    for pattern, said in _LINES:
        m = pattern.match(description)
        if m:
            values = [Decimal(g) for g in m.groups()]
            if "%" in description:  # a contract's 5.00 % is read as 5 %
                values[0] = values[0].normalize()
            return said[lang].format(*(texts.number(v, lang) for v in values))
    return description
