"""Receipts through the API (own only, JSON and PDF in the driver's language) and the
gapless numbering under concurrent billing on PostgreSQL."""

from __future__ import annotations

import io
import threading
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from backend.db.models import Receipt, ReceiptCounter
from backend.services import receipts
from backend.services.receipts import Draft, Seller
from tests import factories as f
from tests.integration.test_billing_support import (
    card,
    driver,
    ended_session,
    fake_payments,
    local,
    place,
    price,
)

MISSING = 2**31 - 1


@pytest.fixture
def gw(container):  # type: ignore[no-untyped-def]
    return fake_payments(container)


def paid_hotel_session(session, container, gw, clock, *, language="pl", name="Zażółć Gęślą"):  # type: ignore[no-untyped-def]
    p = place(session)
    v = price(
        session, p, model="fixed_with_idle", energy="2.40", idle="0.50", window=("08:00", "22:00")
    )
    u = driver(session, language=language, name=name)
    card(session, gw, u)
    row = ended_session(
        session,
        p,
        u,
        start=local(2026, 11, 20, 20, 0),
        full=local(2026, 11, 20, 21, 10),
        end=local(2026, 11, 20, 23, 30),
        wh=18_500,
        version=v,
    )
    charge = container.session_billing.bill_ended_session(session, row.id, clock())
    return u, session.get(Receipt, charge.receipt_id)


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_a_driver_lists_and_reads_own_receipts(client, session, container, gw, clock):
    u, receipt = paid_hotel_session(session, container, gw, clock)
    headers = f.login(client, u)
    r = client.get("/me/receipts", headers=headers)
    assert r.status_code == 200
    assert [(x["id"], x["number"], x["gross"]) for x in r.json] == [
        (receipt.id, "WP/2026/000001", "69.40")
    ]
    assert '"total": 1' in r.headers["X-Pagination"]

    one = client.get(f"/me/receipts/{receipt.id}", headers=headers).json
    assert (one["title"], one["language"]) == ("Rachunek", "pl")
    assert (one["net"], one["vat"], one["gross"], one["vat_rate"]) == (
        "56.42",
        "12.98",
        "69.40",
        "0.23",
    )
    assert [
        (x["description"], x["quantity"], x["unit_price"], x["amount"]) for x in one["lines"]
    ] == [
        ("Energia", "18.500", "2.40", "44.40"),
        ("Opłata postojowa (pojazd naładowany, płatne minuty)", "50", "0.50", "25.00"),
    ]
    assert one["card"] == {"brand": "visa", "last4": "4242"}
    [ses] = one["sessions"]
    assert ses["started_at_local"] == "2026-11-20T20:00:00+01:00"
    assert ses["car_full_at_local"] == "2026-11-20T21:10:00+01:00"
    assert (ses["meter_start_wh"], ses["meter_stop_wh"]) == (1_000_000, 1_018_500)
    assert one["issued_at_local"].endswith("+01:00") and one["timezone"] == "Europe/Warsaw"
    assert one["seller"]["tax_id"] and one["buyer"]["name"] == "Zażółć Gęślą"
    english = client.get(f"/me/receipts/{receipt.id}?language=en", headers=headers).json
    assert english["title"] == "Receipt" and english["lines"][0]["description"] == "Energy"


def test_another_drivers_receipt_does_not_exist(client, session, container, gw, clock):
    _, receipt = paid_hotel_session(session, container, gw, clock)
    stranger = f.user(session)
    session.commit()
    headers = f.login(client, stranger)
    for suffix in ("", "/pdf"):
        theirs = client.get(f"/me/receipts/{receipt.id}{suffix}", headers=headers)
        missing = client.get(f"/me/receipts/{MISSING}{suffix}", headers=headers)
        assert theirs.status_code == 404
        assert theirs.json == missing.json
    assert client.get("/me/receipts", headers=headers).json == []


def test_the_pdf_is_in_polish_with_polish_letters(client, session, container, gw, clock):
    u, receipt = paid_hotel_session(session, container, gw, clock)
    r = client.get(f"/me/receipts/{receipt.id}/pdf", headers=f.login(client, u))
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.data.startswith(b"%PDF-") and b"DejaVu" in r.data  # the TrueType font, embedded
    text = pdf_text(r.data)
    for expected in (
        "Rachunek",
        "WP/2026/000001",
        "Zażółć Gęślą",  # the buyer, as written
        "Łódź",
        "Opłata postojowa",
        "18,500 kWh",
        "44,40 PLN",
        "25,00 PLN",
        "56,42 PLN",
        "12,98 PLN",
        "69,40 PLN",
        "VAT 23 %",
        "20.11.2026 20:00",  # plugged in, Warsaw time
        "20.11.2026 23:30",
        "Visa **** 4242",
        "Hotel Bałtyk Sopot",
    ):
        assert expected in text, expected


def test_the_pdf_speaks_norwegian_and_english(client, session, container, gw, clock):
    u, receipt = paid_hotel_session(
        session, container, gw, clock, language="nb", name="Øystein Åsmund Ærø"
    )
    headers = f.login(client, u)
    text = pdf_text(client.get(f"/me/receipts/{receipt.id}/pdf", headers=headers).data)
    for expected in (
        "Kvittering",
        "Øystein Åsmund Ærø",
        "Kjøper",
        "Selger",
        "Okkupasjonsgebyr",
        "69,40 PLN",
        "MVA 23 %",
        "Betalt med kort",
    ):
        assert expected in text, expected
    english = pdf_text(
        client.get(f"/me/receipts/{receipt.id}/pdf?language=en", headers=headers).data
    )
    for expected in ("Receipt", "Idle fee", "69.40 PLN", "20 Nov 2026 20:00", "Paid by card"):
        assert expected in english, expected


# --- numbering -----------------------------------------------------------------------------


def _draft(key: str, site) -> Draft:  # type: ignore[no-untyped-def]
    line = {
        "kind": "energy",
        "quantity": "1.000",
        "unit": "kWh",
        "unit_price": "2.40",
        "amount_minor": 240,
    }
    return Draft(
        kind="receipt",
        source_key=key,
        driver_id=None,
        site=site,
        currency="PLN",
        vat_rate=Decimal("0.23"),
        lines=[line],
        sessions=[],
    )


def test_concurrent_issuing_leaves_no_gaps_and_no_duplicates(container, session, clock):
    """Eight threads issue receipts at once, some of their transactions rolling back after
    taking a number: the committed receipts are numbered 1..n, each number once."""
    p = place(session)
    session.commit()
    seller = Seller("Wattpass sp. z o.o.", "Warszawa", "PL0000000000")
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []
    committed: list[str] = []

    def worker(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            for i in range(6):
                with container.session_factory() as s:
                    site = s.get(type(p.site), p.site.id)
                    r = receipts.issue(s, seller, _draft(f"t{n}-{i}", site), clock())
                    if (n + i) % 3 == 0:
                        s.rollback()  # the number taken goes back
                        continue
                    number = r.number
                    s.commit()
                    committed.append(number)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    session.expire_all()
    numbers = sorted(session.scalars(select(Receipt.seq)).all())
    assert len(committed) == len(numbers) == 32
    assert numbers == list(range(1, 33))  # no gaps, no duplicates
    assert session.scalar(select(ReceiptCounter.last_seq)) == 32
    assert sorted(committed) == [f"WP/2026/{n:06d}" for n in range(1, 33)]


def test_one_document_per_source_whoever_asks_twice(container, session, clock):
    p = place(session)
    session.commit()
    seller = Seller("Wattpass", "Warszawa", "PL0")
    first = receipts.issue(session, seller, _draft("session:1", p.site), clock())
    session.commit()
    again = receipts.issue(session, seller, _draft("session:1", p.site), clock())
    session.commit()
    assert again.id == first.id and session.scalar(select(ReceiptCounter.last_seq)) == 1


def test_numbers_start_again_each_year_in_the_sellers_time_zone(container, session, clock):
    from datetime import UTC, datetime

    p = place(session)
    session.commit()
    seller = Seller("Wattpass", "Warszawa", "PL0")
    a = receipts.issue(
        session, seller, _draft("a", p.site), datetime(2026, 12, 31, 22, 0, tzinfo=UTC)
    )
    b = receipts.issue(
        session, seller, _draft("b", p.site), datetime(2026, 12, 31, 22, 59, tzinfo=UTC)
    )
    session.commit()
    assert (a.number, b.number) == ("WP/2026/000001", "WP/2026/000002")
    # 23:00 UTC is midnight in Warsaw: 2027 there, a new series year
    c = receipts.issue(
        session, seller, _draft("c", p.site), datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    )
    session.commit()
    assert c.number == "WP/2027/000001"
