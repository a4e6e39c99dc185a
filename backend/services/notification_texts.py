"""The message catalogue: what each event says, in Polish, English and Norwegian Bokmål.

Numbers are written the way the reader writes them: a decimal comma in Polish and
Norwegian, a no-break space between thousands (Polish groups from five digits on, as
CLDR says), energy to 2 decimals (rounded half up) and amounts in their currency's minor
unit followed by the currency code. Counts take the right plural form (Polish has three).
Unknown languages fall back to English.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from backend.services import notification_events as ev
from shared.money import Money, exponent, round_half_up

LANGUAGES = ("pl", "en", "nb")
DEFAULT_LANGUAGE = "en"
NBSP = "\u00a0"


@dataclass(frozen=True)
class Text:
    title: str
    body: str


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

CATALOGUE: dict[str, dict[str, dict[str, str]]] = {
    ev.SessionStarted.kind: {
        "en": {
            "title": "Charging started",
            "body": "Your charging session at {site} has started.",
        },
        "pl": {
            "title": "Ładowanie rozpoczęte",
            "body": "Rozpoczęła się sesja ładowania na stacji {site}.",
        },
        "nb": {
            "title": "Ladingen har startet",
            "body": "Ladeøkten din på {site} har startet.",
        },
    },
    ev.ChargingComplete.kind: {
        "en": {
            "title": "Charging complete",
            "body": "Your car at {site} is fully charged.",
            "idle": "Your car at {site} is fully charged. Please unplug it: the idle fee "
            "starts in {minutes}.",
            "idle_now": "Your car at {site} is fully charged. Please unplug it: the idle fee "
            "applies from now on.",
        },
        "pl": {
            "title": "Ładowanie zakończone",
            "body": "Samochód na stacji {site} jest naładowany.",
            "idle": "Samochód na stacji {site} jest naładowany. Odłącz go: opłata za postój "
            "zacznie być naliczana za {minutes}.",
            "idle_now": "Samochód na stacji {site} jest naładowany. Odłącz go: opłata za postój "
            "jest już naliczana.",
        },
        "nb": {
            "title": "Ladingen er fullført",
            "body": "Bilen din på {site} er fulladet.",
            "idle": "Bilen din på {site} er fulladet. Koble den fra: sperreavgiften starter "
            "om {minutes}.",
            "idle_now": "Bilen din på {site} er fulladet. Koble den fra: sperreavgiften løper "
            "fra nå.",
        },
    },
    ev.SessionEnded.kind: {
        "en": {
            "title": "Charging session ended",
            "body": "You charged {energy} kWh at {site}. Total: {amount}.",
        },
        "pl": {
            "title": "Sesja ładowania zakończona",
            "body": "Naładowano {energy} kWh na stacji {site}. Koszt: {amount}.",
        },
        "nb": {
            "title": "Ladeøkten er avsluttet",
            "body": "Du ladet {energy} kWh på {site}. Beløp: {amount}.",
        },
    },
    ev.PaymentFailed.kind: {
        "en": {
            "title": "Payment failed",
            "body": "We could not charge {amount} to your card. Please update your payment "
            "method in the app.",
        },
        "pl": {
            "title": "Płatność nie powiodła się",
            "body": "Nie udało się pobrać {amount} z Twojej karty. Zaktualizuj metodę płatności "
            "w aplikacji.",
        },
        "nb": {
            "title": "Betalingen mislyktes",
            "body": "Vi kunne ikke belaste kortet ditt med {amount}. Oppdater betalingsmåten i "
            "appen.",
        },
    },
    ev.AuthenticationNeeded.kind: {
        "en": {
            "title": "Please confirm your payment",
            "body": "Your bank asks you to confirm the payment of {amount}. Open the app to "
            "confirm it.",
        },
        "pl": {
            "title": "Potwierdź płatność",
            "body": "Twój bank prosi o potwierdzenie płatności {amount}. Otwórz aplikację, aby "
            "ją potwierdzić.",
        },
        "nb": {
            "title": "Bekreft betalingen",
            "body": "Banken din ber deg bekrefte betalingen på {amount}. Åpne appen for å "
            "bekrefte den.",
        },
    },
    ev.CodeExpiring.kind: {
        "en": {
            "title": "Your access code expires soon",
            "body": "Your access to the chargers of {operator} ends in {hours}.",
        },
        "pl": {
            "title": "Twój kod dostępu wkrótce wygaśnie",
            "body": "Twój dostęp do ładowarek {operator} wygaśnie za {hours}.",
        },
        "nb": {
            "title": "Tilgangskoden din utløper snart",
            "body": "Tilgangen din til laderne til {operator} utløper om {hours}.",
        },
    },
    ev.PlanRenewed.kind: {
        "en": {
            "title": "Plan renewed",
            "body": "Your {plan} plan has been renewed. We charged {amount}.",
        },
        "pl": {
            "title": "Plan odnowiony",
            "body": "Twój plan {plan} został odnowiony. Pobraliśmy {amount}.",
        },
        "nb": {
            "title": "Abonnementet er fornyet",
            "body": "Abonnementet ditt {plan} er fornyet. Vi har belastet {amount}.",
        },
    },
    ev.PlanRenewalFailed.kind: {
        "en": {
            "title": "Plan renewal failed",
            "body": "We could not renew your {plan} plan ({amount}). Please check your payment "
            "method in the app.",
        },
        "pl": {
            "title": "Nie udało się odnowić planu",
            "body": "Nie udało się odnowić planu {plan} ({amount}). Sprawdź metodę płatności w "
            "aplikacji.",
        },
        "nb": {
            "title": "Fornyelsen mislyktes",
            "body": "Vi kunne ikke fornye abonnementet ditt {plan} ({amount}). Sjekk "
            "betalingsmåten i appen.",
        },
    },
    ev.ChargerFaulted.kind: {
        "en": {
            "title": "Charger fault",
            "body": "Charger {charger} at {site} reported a fault.",
            "coded": "Charger {charger} at {site} reported a fault: {error}.",
        },
        "pl": {
            "title": "Awaria ładowarki",
            "body": "Ładowarka {charger} ({site}) zgłosiła awarię.",
            "coded": "Ładowarka {charger} ({site}) zgłosiła awarię: {error}.",
        },
        "nb": {
            "title": "Feil på laderen",
            "body": "Laderen {charger} på {site} har meldt feil.",
            "coded": "Laderen {charger} på {site} har meldt feil: {error}.",
        },
    },
    ev.ChargerRestarted.kind: {
        "en": {
            "title": "Charger restarted",
            "body": "Charger {charger} at {site} was restarted automatically and works again.",
        },
        "pl": {
            "title": "Ładowarka uruchomiona ponownie",
            "body": "Ładowarka {charger} ({site}) została automatycznie uruchomiona ponownie i "
            "znów działa.",
        },
        "nb": {
            "title": "Laderen er startet på nytt",
            "body": "Laderen {charger} på {site} ble startet automatisk på nytt og virker igjen.",
        },
    },
    ev.ChargerRestartFailed.kind: {
        "en": {
            "title": "Charger restart failed",
            "body": "The automatic restart of charger {charger} at {site} did not help. It "
            "needs a visit.",
        },
        "pl": {
            "title": "Restart ładowarki nie pomógł",
            "body": "Automatyczny restart ładowarki {charger} ({site}) nie pomógł. Potrzebna "
            "jest wizyta serwisu.",
        },
        "nb": {
            "title": "Omstarten mislyktes",
            "body": "Automatisk omstart av laderen {charger} på {site} hjalp ikke. Den må "
            "sjekkes på stedet.",
        },
    },
    ev.SettlementReady.kind: {
        "en": {
            "title": "Settlement ready",
            "body": "The settlement for {period} is ready: {amount}.",
        },
        "pl": {
            "title": "Rozliczenie gotowe",
            "body": "Rozliczenie za {period} jest gotowe: {amount}.",
        },
        "nb": {
            "title": "Oppgjøret er klart",
            "body": "Oppgjøret for {period} er klart: {amount}.",
        },
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


def render(event: ev.NotificationEvent, language: str | None) -> Text:
    """The title and body of `event` for a reader of `language`."""
    lang = language_of(language)
    variant, params = _params(event, lang)
    entry = CATALOGUE[event.kind][lang]
    return Text(entry["title"].format(**params), entry[variant].format(**params))


def _params(event: ev.NotificationEvent, lang: str) -> tuple[str, dict[str, str]]:
    match event:
        case ev.SessionStarted():
            return "body", {"site": event.site_name}
        case ev.ChargingComplete(idle_fee_in_minutes=None):
            return "body", {"site": event.site_name}
        case ev.ChargingComplete(idle_fee_in_minutes=minutes) if minutes is not None:
            if minutes <= 0:
                return "idle_now", {"site": event.site_name}
            return "idle", {"site": event.site_name, "minutes": count(minutes, "minute", lang)}
        case ev.SessionEnded():
            return "body", {
                "site": event.site_name,
                "energy": energy(event.energy_kwh, lang),
                "amount": money(event.amount, lang),
            }
        case ev.PaymentFailed() | ev.AuthenticationNeeded():
            return "body", {"amount": money(event.amount, lang)}
        case ev.PlanRenewed() | ev.PlanRenewalFailed():
            return "body", {"plan": event.plan_name, "amount": money(event.amount, lang)}
        case ev.CodeExpiring():
            hours = max(1, event.hours_left)
            return "body", {"operator": event.operator_name, "hours": count(hours, "hour", lang)}
        case ev.ChargerFaulted():
            params = {"charger": event.charger_name, "site": event.site_name}
            if event.error_code:
                return "coded", {**params, "error": event.error_code}
            return "body", params
        case ev.ChargerRestarted() | ev.ChargerRestartFailed():
            return "body", {"charger": event.charger_name, "site": event.site_name}
        case ev.SettlementReady():
            return "body", {
                "period": period(event.period_start, event.period_end, lang),
                "amount": money(event.amount, lang),
            }
    raise ValueError(f"No text for notification event {type(event).__name__}")


def hours_until(seconds: float) -> int:
    """Whole hours, rounded to the nearest, at least one (for "ends in N hours")."""
    return max(1, math.floor(seconds / 3600 + 0.5))
