"""The message catalogue: every event in Polish, English and Norwegian, numbers written
the way each reader writes them, plurals that agree with their numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from backend.services import notification_events as ev
from backend.services.notification_texts import (
    CATALOGUE,
    LANGUAGES,
    NBSP,
    count,
    hours_until,
    money,
    number,
    period,
    render,
)
from shared.money import Money

PLN = Money.of("45.10", "PLN")

SAMPLES: list[ev.NotificationEvent] = [
    ev.SessionStarted(session_id=7, site_name="Galeria Mokotów"),
    ev.ChargingComplete(session_id=7, site_name="Galeria Mokotów"),
    ev.ChargingComplete(session_id=7, site_name="Galeria Mokotów", idle_fee_in_minutes=15),
    ev.ChargingComplete(session_id=7, site_name="Galeria Mokotów", idle_fee_in_minutes=0),
    ev.SessionEnded(7, "Galeria Mokotów", Decimal("12.345"), PLN),
    ev.PaymentFailed(amount=PLN, session_id=7),
    ev.AuthenticationNeeded(amount=PLN, payment_id=3),
    ev.CodeExpiring(4, "Hotel Bristol", datetime(2026, 11, 21, 10, tzinfo=UTC), 5),
    ev.PlanRenewed("Plus", Money.of("29.00", "PLN")),
    ev.PlanRenewalFailed("Plus", Money.of("29.00", "PLN")),
    ev.ChargerFaulted(11, "CP-000011", "Garage A", "GroundFailure"),
    ev.ChargerFaulted(11, "CP-000011", "Garage A"),
    ev.ChargerRestarted(11, "CP-000011", "Garage A"),
    ev.ChargerRestartFailed(11, "CP-000011", "Garage A"),
    ev.SettlementReady(2, date(2026, 10, 1), date(2026, 10, 31), Money.of("1234.56", "PLN")),
]


def test_every_event_has_a_sample_here():
    assert {type(e) for e in SAMPLES} == set(ev.ALL_EVENTS)
    assert set(CATALOGUE) == {e.kind for e in ev.ALL_EVENTS}


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.kind)
def test_every_event_reads_differently_in_each_language(event):
    texts = {lang: render(event, lang) for lang in LANGUAGES}
    for text in texts.values():
        assert text.title and text.body
        assert "{" not in text.title + text.body  # no placeholder left unfilled
    assert len({t.body for t in texts.values()}) == 3
    assert len({t.title for t in texts.values()}) == 3


def test_session_ended_in_three_languages():
    event = ev.SessionEnded(7, "Galeria Mokotów", Decimal("12.345"), PLN)
    assert render(event, "pl").body == (
        "Naładowano 12,35 kWh na stacji Galeria Mokotów. Koszt: 45,10 PLN."
    )
    assert render(event, "en").body == "You charged 12.35 kWh at Galeria Mokotów. Total: 45.10 PLN."
    norwegian = ev.SessionEnded(8, "Sameiet Solsiden", Decimal("7.004"), Money.of("31.5", "NOK"))
    assert render(norwegian, "nb").title == "Ladeøkten er avsluttet"
    assert (
        render(norwegian, "nb").body == "Du ladet 7,00 kWh på Sameiet Solsiden. Beløp: 31,50 NOK."
    )


def test_energy_is_rounded_half_up_to_two_decimals():
    assert number(Decimal("0.005"), 2, "en") == "0.01"
    assert number(Decimal("0.004"), 2, "pl") == "0,00"
    assert number(Decimal("10"), 2, "nb") == "10,00"


def test_thousands_are_grouped_as_each_language_does():
    # Polish groups from five digits on (CLDR minimumGroupingDigits 2); a no-break space
    # keeps the number on one line of a notification.
    assert money(Money.of("1234.50", "PLN"), "pl") == "1234,50 PLN"
    assert money(Money.of("12345.67", "PLN"), "pl") == f"12{NBSP}345,67 PLN"
    assert money(Money.of("1234.50", "NOK"), "nb") == f"1{NBSP}234,50 NOK"
    assert money(Money.of("1234567.5", "NOK"), "en") == "1,234,567.50 NOK"
    assert money(Money.of("-1234.50", "PLN"), "en") == "-1,234.50 PLN"


def test_charging_complete_says_when_the_idle_fee_starts():
    def body(minutes, lang):
        return render(ev.ChargingComplete(1, "Garage", minutes), lang).body

    assert body(None, "en") == "Your car at Garage is fully charged."
    assert "idle fee" not in body(None, "en")
    assert body(15, "en").endswith("the idle fee starts in 15 minutes.")
    assert body(1, "en").endswith("starts in 1 minute.")
    assert body(0, "en").endswith("the idle fee applies from now on.")
    assert body(15, "pl").endswith("opłata za postój zacznie być naliczana za 15 minut.")
    assert body(2, "pl").endswith("za 2 minuty.")
    assert body(1, "pl").endswith("za 1 minutę.")
    assert body(15, "nb").endswith("sperreavgiften starter om 15 minutter.")
    assert body(1, "nb").endswith("om 1 minutt.")


@pytest.mark.parametrize(
    ("n", "polish"),
    [
        (1, "godzinę"),
        (2, "godziny"),
        (4, "godziny"),
        (5, "godzin"),
        (12, "godzin"),
        (14, "godzin"),
        (22, "godziny"),
        (24, "godziny"),
        (25, "godzin"),
        (112, "godzin"),
    ],
)
def test_polish_has_three_plural_forms(n, polish):
    assert count(n, "hour", "pl") == f"{n} {polish}"


def test_code_expiring_in_n_hours():
    event = ev.CodeExpiring(4, "Hotel Bristol", datetime(2026, 11, 21, 10, tzinfo=UTC), 5)
    assert (
        render(event, "pl").body == "Twój dostęp do ładowarek Hotel Bristol wygaśnie za 5 godzin."
    )
    assert (
        render(event, "en").body == "Your access to the chargers of Hotel Bristol ends in 5 hours."
    )
    assert render(event, "nb").body == (
        "Tilgangen din til laderne til Hotel Bristol utløper om 5 timer."
    )
    one = ev.CodeExpiring(4, "Hotel Bristol", datetime(2026, 11, 21, 10, tzinfo=UTC), 1)
    assert render(one, "nb").body.endswith("om 1 time.")


def test_hours_left_are_rounded_to_the_nearest_hour_and_never_zero():
    assert hours_until(5 * 3600) == 5
    assert hours_until(23 * 3600 + 29 * 60) == 23
    assert hours_until(23 * 3600 + 30 * 60) == 24
    assert hours_until(10 * 60) == 1


def test_settlement_period_is_a_month_name_when_it_is_a_month():
    assert period(date(2026, 10, 1), date(2026, 10, 31), "pl") == "październik 2026"
    assert period(date(2026, 2, 1), date(2026, 2, 28), "nb") == "februar 2026"
    assert period(date(2026, 10, 1), date(2026, 10, 31), "en") == "October 2026"
    assert period(date(2026, 10, 1), date(2026, 10, 15), "pl") == "1.10.2026–15.10.2026"
    assert (
        period(date(2026, 10, 1), date(2026, 11, 30), "en") == "1 October 2026 – 30 November 2026"
    )
    event = ev.SettlementReady(2, date(2026, 10, 1), date(2026, 10, 31), Money.of("1234.56", "PLN"))
    assert render(event, "pl").body == "Rozliczenie za październik 2026 jest gotowe: 1234,56 PLN."


def test_operator_texts_name_the_charger_and_the_fault():
    faulted = ev.ChargerFaulted(11, "CP-000011", "Garage A", "GroundFailure")
    assert (
        render(faulted, "en").body
        == "Charger CP-000011 at Garage A reported a fault: GroundFailure."
    )
    assert render(faulted, "pl").title == "Awaria ładowarki"
    failed = ev.ChargerRestartFailed(11, "CP-000011", "Garage A")
    assert "needs a visit" in render(failed, "en").body


def test_unknown_language_falls_back_to_english():
    event = ev.SessionStarted(1, "Garage")
    assert render(event, "de") == render(event, "en")
    assert render(event, None) == render(event, "en")


def test_payload_carries_ids_as_strings():
    assert ev.SessionEnded(7, "x", Decimal(1), PLN).data() == {"session_id": "7"}
    assert ev.ChargingComplete(7, "x", 15).data() == {
        "session_id": "7",
        "idle_fee_in_minutes": "15",
    }
    assert ev.PaymentFailed(PLN).data() == {}
    assert ev.CodeExpiring(4, "x", datetime(2026, 11, 21, 10, tzinfo=UTC), 5).dedupe_key() == (
        "code_expiring:4"
    )
    assert ev.SessionStarted(1, "x").dedupe_key() is None
