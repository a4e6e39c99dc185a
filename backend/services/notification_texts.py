"""The message catalogue: what each event says, in Polish, English and Norwegian Bokmål.

The numbers, amounts, counts and periods in the texts are written as the reader writes
them (notification_format); the operators' texts are in notification_texts_staff. Unknown
languages fall back to English.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.services import notification_events as ev

# The formatting helpers and the language list live in notification_format; re-exported
# here, where callers always imported them from.
from backend.services.notification_format import DEFAULT_LANGUAGE as DEFAULT_LANGUAGE
from backend.services.notification_format import LANGUAGES as LANGUAGES
from backend.services.notification_format import NBSP as NBSP
from backend.services.notification_format import count as count
from backend.services.notification_format import energy as energy
from backend.services.notification_format import hours_until as hours_until
from backend.services.notification_format import language_of as language_of
from backend.services.notification_format import money as money
from backend.services.notification_format import number as number
from backend.services.notification_format import period as period
from backend.services.notification_format import plural_form as plural_form
from backend.services.notification_texts_staff import STAFF_CATALOGUE


@dataclass(frozen=True)
class Text:
    title: str
    body: str


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
    **STAFF_CATALOGUE,
}


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
