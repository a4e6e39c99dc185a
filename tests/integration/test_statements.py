"""The hotel's per-code statement of guest sessions (operator_invoiced), through the API:
domain.md §6 P2 to the grosz, own operator only, another operator's code 404."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from backend.db.models.enums import Role
from tests import factories as f
from tests.integration.test_billing_support import (
    driver,
    ended_session,
    fake_payments,
    guest_code,
    local,
    place,
    price,
)

MISSING = 2**31 - 1


@pytest.fixture
def hotel(session, container, clock):  # type: ignore[no-untyped-def]
    """Hotel Bałtyk (P2, 2.00 PLN/kWh for guests) with two guests' codes, and another
    operator's hotel with a guest of its own."""
    fake_payments(container)
    billing = container.session_billing
    p = place(session)
    price(session, p, energy="2.00", group=p.setup.company)
    ola, knut = (
        driver(session, name="Ola Wiśniewska"),
        driver(session, language="nb", name="Knut Ødegård"),
    )
    room_204, room_310 = (
        guest_code(session, p, ola),
        guest_code(session, p, knut, label="Pokój 310"),
    )
    for u, code, day, wh in (
        (ola, room_204, 20, 30_000),
        (ola, room_204, 21, 12_345),
        (knut, room_310, 21, 7_000),
    ):
        row = ended_session(
            session,
            p,
            u,
            start=local(2026, 11, day, 18, 0),
            end=local(2026, 11, day, 22, 0),
            wh=wh,
            code=code,
        )
        billing.bill_ended_session(session, row.id, clock())
    other = place(session, name="Hotel Fjord")
    price(session, other, energy="3.00", group=other.setup.company)
    stranger = driver(session)
    their_code = guest_code(session, other, stranger, label="Room 1")
    row = ended_session(
        session,
        other,
        stranger,
        start=local(2026, 11, 20, 18, 0),
        end=local(2026, 11, 20, 22, 0),
        wh=10_000,
        code=their_code,
    )
    billing.bill_ended_session(session, row.id, clock())
    staff = f.user(session, Role.OPERATOR_STAFF, operator_id=p.setup.operator.id)
    other_staff = f.user(session, Role.OPERATOR_STAFF, operator_id=other.setup.operator.id)
    session.commit()
    return p, room_204, room_310, other, their_code, staff, other_staff


def test_the_statement_lists_guest_sessions_per_code_to_the_grosz(client, session, hotel):
    p, _, room_310, _, _, staff, _ = hotel
    url = f"/operators/{p.setup.operator.id}/statements?period=2026-11"
    body = client.get(url, headers=f.login(client, staff)).json
    assert body["period"] == "2026-11" and body["operator_id"] == p.setup.operator.id
    codes = {c["code"]["label"]: c for c in body["codes"]}
    assert set(codes) == {"Pokój 204", "Pokój 310"}
    first = codes["Pokój 204"]["sessions"][0]
    # domain.md §6: a 30 kWh guest session shows 60.00 gross (48.78 + 11.22)
    assert (first["energy_kwh"], first["gross"], first["net"], first["vat"]) == (
        "30.000",
        "60.00",
        "48.78",
        "11.22",
    )
    assert first["guest"]["name"] == "Ola Wiśniewska"
    assert first["started_at_local"] == "2026-11-20T18:00:00+01:00"
    # 12.345 kWh × 2.00 = 24.69 (20.07 + 4.62)
    assert codes["Pokój 204"]["totals"] == {
        "sessions": "2",
        "energy_kwh": "42.345",
        "gross": "84.69",
        "net": "68.85",
        "vat": "15.84",
    }
    assert body["totals"]["gross"] == "98.69"  # + 14.00 for room 310

    only = client.get(f"{url}&code_id={room_310.id}", headers=f.login(client, staff)).json
    assert [c["code"]["id"] for c in only["codes"]] == [room_310.id]
    assert only["totals"]["gross"] == "14.00"


def test_another_operators_code_or_statement_does_not_exist(client, session, hotel):
    p, _, _, other, their_code, staff, other_staff = hotel
    headers = f.login(client, staff)
    mine = f"/operators/{p.setup.operator.id}/statements?period=2026-11"
    theirs = client.get(f"{mine}&code_id={their_code.id}", headers=headers)
    missing = client.get(f"{mine}&code_id={MISSING}", headers=headers)
    assert theirs.status_code == 404 and theirs.json == missing.json
    cross = client.get(
        f"/operators/{other.setup.operator.id}/statements?period=2026-11", headers=headers
    )
    nobody = client.get(f"/operators/{MISSING}/statements?period=2026-11", headers=headers)
    assert cross.status_code == 404 and cross.json == nobody.json
    # Their own staff see theirs, and nothing of ours.
    own = client.get(
        f"/operators/{other.setup.operator.id}/statements?period=2026-11",
        headers=f.login(client, other_staff),
    ).json
    assert own["totals"]["gross"] == "30.00" and "Pokój" not in str(own)


def test_a_period_is_a_month(client, session, hotel):
    p, *_, staff, _ = hotel
    r = client.get(
        f"/operators/{p.setup.operator.id}/statements?period=2026-13",
        headers=f.login(client, staff),
    )
    assert r.status_code == 422 and "period" in r.json["errors"]
    empty = client.get(
        f"/operators/{p.setup.operator.id}/statements?period=2026-12",
        headers=f.login(client, staff),
    ).json
    assert empty["codes"] == [] and empty["totals"]["gross"] == "0.00"


def test_the_statement_as_pdf(client, session, hotel):
    p, *_, staff, _ = hotel
    r = client.get(
        f"/operators/{p.setup.operator.id}/statements/pdf?period=2026-11&language=pl",
        headers=f.login(client, staff),
    )
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(r.data)).pages)
    for expected in (
        "Zestawienie ładowań gości",
        "Pokój 204",
        "Ola Wiśniewska",
        "Knut Ødegård",
        "30,000 kWh",
        "48,78 PLN",
        "11,22 PLN",
        "60,00 PLN",
        "98,69 PLN",
    ):
        assert expected in text, text
