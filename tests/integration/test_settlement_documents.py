"""An operator's settlement as documents, on the real PostgreSQL through the API: the PDF
(payout statement for P1, fee invoice for the P2 hotel; pl by default for a Polish
operator, nb for a Norwegian one, any of pl/en/nb on request; thousands of items over
many pages) and the items as CSV (every item, exact decimals, summing to the revenue).
Settlements are made the real way: sessions billed by the billing service, settled by a
platform admin's POST (the helpers of test_settlements_support)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from backend.db.models.enums import Role
from backend.receipts.settlement_pdf import render_settlement
from backend.services import settlement_views as views
from tests import factories as f
from tests.integration.test_billing_support import fake_payments, guest_code, price
from tests.integration.test_settlements_support import (
    billed,
    driver,
    items,
    local,
    operator,
    paying_driver,
    receipt_of,
    refund,
    settled,
    utc,
)

DECEMBER_2 = utc(2026, 12, 2, 8, 0)  # November has ended everywhere
TOO_BIG = 2**40  # beyond the schema's 32-bit ids


@pytest.fixture
def gw(container):  # type: ignore[no-untyped-def]
    return fake_payments(container)


@pytest.fixture
def billing(container, gw):  # type: ignore[no-untyped-def]
    return container.session_billing


@pytest.fixture
def admin(client, session):  # type: ignore[no-untyped-def]
    u = f.user(session, Role.PLATFORM_ADMIN)
    session.commit()
    return u


def p1_block(session, billing, gw, client, clock, admin):  # type: ignore[no-untyped-def]
    """domain.md §6 P1: 40 and 80 kWh at 1.50 gross, fee 5 % → payout 139.02 + 31.97 =
    170.99. Returns the operator, its charges and the settlement as the API gives it."""
    block = operator(session, "P1", name="Osiedle Zielone", fee_percent="5")
    company = block.place.setup.company
    price(session, block.place, energy="1.50", group=company)
    resident = paying_driver(session, gw)
    charges = [
        billed(session, billing, block, resident, end=local(2026, 11, d, 22), wh=wh, group=company)
        for d, wh in ((4, 40_000), (17, 80_000))
    ]
    clock.now = DECEMBER_2
    body = settled(client, f.login(client, admin), block.id, "2026-11")
    assert (body["direction"], body["gross"]) == ("payout", "170.99")
    return block, charges, body


def p2_hotel(session, billing, client, clock, admin):  # type: ignore[no-untyped-def]
    """domain.md §6 P2: a 30 kWh guest session (48.78 net on the statement); fee 30.00
    per charge point + 0.10 per kWh → the hotel is billed 33.00 + 7.59 = 40.59."""
    hotel = operator(
        session, "P2", name="Hotel Bałtyk", fee_fixed_per_cp="30.00", fee_per_kwh="0.10"
    )
    company = hotel.place.setup.company
    price(session, hotel.place, energy="2.00", group=company)
    guest = driver(session, language="nb", name="Øystein Ås")
    code = guest_code(session, hotel.place, guest)
    stay = billed(
        session, billing, hotel, guest, end=local(2026, 11, 20, 22), wh=30_000, code=code,
        group=company,
    )  # fmt: skip
    clock.now = DECEMBER_2
    body = settled(client, f.login(client, admin), hotel.id, "2026-11")
    assert (body["direction"], body["gross"]) == ("invoice", "40.59")
    return hotel, stay, body


def url(op_id: int, settlement_id: int, suffix: str) -> str:
    return f"/operators/{op_id}/settlements/{settlement_id}{suffix}"


def pdf_text(r) -> str:  # type: ignore[no-untyped-def]
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    assert r.mimetype == "application/pdf" and r.data.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(r.data)).pages)


def csv_rows(r) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))


# --- the PDF ---------------------------------------------------------------------------------


def test_p1_payout_statement_in_the_operators_language_and_on_request(
    client, session, billing, gw, clock, admin
):
    block, charges, body = p1_block(session, billing, gw, client, clock, admin)
    staff = f.login(client, block.staff)
    number = body["number"]
    r = client.get(url(block.id, body["id"], "/pdf"), headers=staff)
    text = pdf_text(r)
    assert r.headers["Content-Disposition"] == f'inline; filename="{number.replace("/", "-")}.pdf"'
    # A Polish operator reads Polish by default: diacritics survive (DejaVu, not core fonts).
    for expected in (
        "Rozliczenie – wypłata dla operatora",
        number,
        "2026-11 (01.11.2026 – 30.11.2026)",
        "Wattpass sp. z o.o.",  # the platform, from Settings
        block.place.setup.operator.legal_name,
        "Opłata za zarządzanie siecią 5 % przychodu netto",  # the line, said in Polish
        "146,34 PLN",
        "-7,32 PLN",
        "139,02 PLN",
        "VAT 23 %",
        "31,97 PLN",
        "170,99 PLN",
        "Wypłata: 170,99 PLN",
        "Przelew bankowy",  # no Stripe Connect here: a bank transfer for staff to make
        "40,000 kWh",
    ):
        assert expected in text, expected
    for charge in charges:  # every receipt the drivers were given is listed
        assert receipt_of(session, charge).number in text
        assert f"#{charge.session_id}" in text

    english = pdf_text(client.get(url(block.id, body["id"], "/pdf?lang=en"), headers=staff))
    assert "Settlement statement – payout to the operator" in english
    assert "Total 170.99 PLN" in english and "Fee, share of net revenue: 5 %" in english
    norwegian = pdf_text(client.get(url(block.id, body["id"], "/pdf?lang=nb"), headers=staff))
    assert "Oppgjør – utbetaling til operatøren" in norwegian and "170,99 PLN" in norwegian
    # A platform admin gets the same document.
    assert "Rozliczenie" in pdf_text(
        client.get(url(block.id, body["id"], "/pdf"), headers=f.login(client, admin))
    )
    # The default follows the operator's country: a Norwegian operator reads Bokmål.
    block.place.setup.operator.country = "NO"
    session.commit()
    assert "Oppgjør" in pdf_text(client.get(url(block.id, body["id"], "/pdf"), headers=staff))
    r = client.get(url(block.id, body["id"], "/pdf?lang=de"), headers=staff)
    assert r.status_code == 422 and "lang" in str(r.json["errors"])


def test_p2_hotel_gets_an_invoice_for_the_fee(client, session, billing, clock, admin):
    hotel, stay, body = p2_hotel(session, billing, client, clock, admin)
    staff = f.login(client, hotel.staff)
    text = pdf_text(client.get(url(hotel.id, body["id"], "/pdf?lang=en"), headers=staff))
    for expected in (
        "Invoice for the network management fee",
        "Seller",
        "Buyer",
        "Network fee 1 charge point(s) × 1 month(s) -30.00 PLN",
        "Network fee 30.000 kWh × 0.10 -3.00 PLN",
        "Net 33.00 PLN",
        "VAT 23 % 7.59 PLN",
        "Total 40.59 PLN",
        f"#{stay.session_id}",
        "30.000 kWh",
        "48.78 PLN",  # the guest session's net, as on the hotel's statement
    ):
        assert expected in text, expected
    assert "Payout:" not in text  # the platform pays the hotel nothing
    polish = pdf_text(client.get(url(hotel.id, body["id"], "/pdf"), headers=staff))
    assert "Faktura za opłatę za zarządzanie siecią" in polish and "40,59 PLN" in polish


def test_thousands_of_items_run_over_pages_with_their_headings(
    client, session, billing, gw, clock, admin
):
    """The real P1 document with 2,500 items (synthetic: billing that many sessions is
    not what this test is about): every item is printed once, each page repeats the
    column headings and says which settlement and page it is."""
    block, _, body = p1_block(session, billing, gw, client, clock, admin)
    row = views.get(session, block.id, body["id"])
    doc = views.document(session, row, {"name": "Wattpass", "address": "", "tax_id": "PL1"})
    many = [
        {"kind": "receipt", "origin_period": "2026-11", "net": "1.01", "energy_kwh": "0.000",
         "receipt_id": i, "refund_id": None, "session_id": i, "reference": f"WP/2026/{i:06d}"}
        for i in range(1, 2501)
    ]  # fmt: skip
    pages = PdfReader(io.BytesIO(render_settlement(doc, iter(many), "pl"))).pages
    assert len(pages) > 20
    texts = [p.extract_text() for p in pages]
    for n, text in enumerate(texts, start=1):
        assert f"{body['number']} · strona {n}/{len(pages)}" in text
    for text in texts[1:]:
        assert "Pozycja" in text and "Netto" in text  # the headings, again
    joined = "\n".join(texts)
    assert all(joined.count(f"WP/2026/{i:06d} ") == 1 for i in (1, 1250, 2500))
    assert (
        "Pozycji: 2500" in joined and "2525,00 PLN" in joined
    )  # 2,500 × 1.01 (pl groups from 5 digits)


# --- the CSV ---------------------------------------------------------------------------------


def test_csv_lists_every_item_and_sums_to_the_revenue(client, session, billing, gw, clock, admin):
    """P1 with a refund in the month: receipts, the refund (negative) and the sessions;
    their nets add up to the revenue the settlement counted."""
    block = operator(session, "P1", name="Osiedle Zielone", fee_percent="5")
    company = block.place.setup.company
    price(session, block.place, energy="1.50", group=company)
    resident = paying_driver(session, gw)
    charges = [
        billed(session, billing, block, resident, end=local(2026, 11, d, 22), wh=wh, group=company)
        for d, wh in ((4, 40_000), (17, 80_000), (25, 12_345))
    ]
    refund(session, gw, block, charges[0], "10.00", local(2026, 11, 20, 10))
    clock.now = DECEMBER_2
    body = settled(client, f.login(client, admin), block.id, "2026-11")
    staff = f.login(client, block.staff)

    r = client.get(url(block.id, body["id"], "/items.csv"), headers=staff)
    rows = csv_rows(r)
    name = body["number"].replace("/", "-")
    assert r.headers["Content-Disposition"] == f'attachment; filename="{name}-items.csv"'
    assert r.get_data(as_text=True).splitlines()[0] == (
        "kind,origin_period,reference,receipt_id,refund_id,session_id,energy_kwh,net"
    )
    assert sorted(x["kind"] for x in rows) == ["receipt"] * 3 + ["refund"] + ["session"] * 3
    # Row for row what the portal's items say, ids empty where an item has none.
    api = items(client, staff, block.id, body["id"])
    assert rows == [{k: "" if x[k] is None else str(x[k]) for k in rows[0]} for x in api]
    assert sum(Decimal(x["net"]) for x in rows) == Decimal(body["revenue_net"])
    [given_back] = [x for x in rows if x["kind"] == "refund"]
    assert Decimal(given_back["net"]) < 0 and given_back["refund_id"] and given_back["reference"]
    energies = sorted(x["energy_kwh"] for x in rows if x["kind"] == "session")
    assert energies == ["12.345", "40.000", "80.000"]  # to the Wh, three places always
    assert {x["net"] for x in rows if x["kind"] == "receipt"} >= {"48.78", "97.56"}


def test_csv_of_the_hotel_is_its_guest_session(client, session, billing, clock, admin):
    hotel, stay, body = p2_hotel(session, billing, client, clock, admin)
    rows = csv_rows(
        client.get(url(hotel.id, body["id"], "/items.csv"), headers=f.login(client, admin))
    )
    assert [(x["kind"], x["session_id"], x["energy_kwh"], x["net"]) for x in rows] == [
        ("session", str(stay.session_id), "30.000", "48.78")
    ]
    assert sum(Decimal(x["net"]) for x in rows) == Decimal(body["revenue_net"])


# --- who may fetch them ----------------------------------------------------------------------


def test_only_the_operators_staff_and_admins_get_the_documents(
    client, session, billing, gw, clock, admin
):
    block, _, body = p1_block(session, billing, gw, client, clock, admin)
    other = operator(session, "P1", name="Inny Operator", fee_percent="5")
    theirs = f.login(client, other.staff)
    drv = f.user(session, Role.DRIVER)
    session.commit()
    for suffix in ("/pdf", "/items.csv"):
        mine = url(block.id, body["id"], suffix)
        # Another operator's staff: exactly what a missing settlement or operator gets.
        for target, missing in (
            (mine, url(block.id, TOO_BIG, suffix)),
            (url(other.id, body["id"], suffix), url(other.id, 2**31 - 1, suffix)),
        ):
            r, gone = client.get(target, headers=theirs), client.get(missing, headers=theirs)
            assert r.status_code == 404, (target, r.get_data(as_text=True)[:300])
            assert (r.status_code, r.json["message"]) == (404, gone.json["message"])
        assert client.get(mine, headers=f.login(client, drv)).status_code == 403
        r = client.get(mine)
        assert r.status_code == 401 and set(r.json) == {"code", "status", "message", "errors"}
        # Ids beyond the schema's range name nothing, even for an admin: 404, never a 500.
        headers = f.login(client, admin)
        for big in (url(block.id, TOO_BIG, suffix), url(TOO_BIG, body["id"], suffix)):
            assert client.get(big, headers=headers).status_code == 404, big
        assert client.get(mine, headers=headers).status_code == 200


def test_openapi_documents_the_files(client):
    spec = client.get("/openapi.json").json
    base = "/operators/{operator_id}/settlements/{settlement_id}"
    pdf, csv_ = spec["paths"][f"{base}/pdf"]["get"], spec["paths"][f"{base}/items.csv"]["get"]
    assert set(pdf["responses"]["200"]["content"]) == {"application/pdf"}
    assert set(csv_["responses"]["200"]["content"]) == {"text/csv"}
    [lang] = [p for p in pdf["parameters"] if p["name"] == "lang"]
    assert lang["in"] == "query" and [x for x in lang["schema"]["enum"] if x] == ["pl", "en", "nb"]
    for op in (pdf, csv_):
        assert set(op["x-allowed-roles"]) == {"operator_staff", "platform_admin"}
