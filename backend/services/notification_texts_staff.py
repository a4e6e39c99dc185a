"""What the events for operator staff say (charger faults and restarts, settlements), in
Polish, English and Norwegian Bokmål.

Split out of notification_texts, whose CATALOGUE takes these entries in, to keep each
module small.
"""

from __future__ import annotations

from backend.services import notification_events as ev

STAFF_CATALOGUE: dict[str, dict[str, dict[str, str]]] = {
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
