"""The driver's session API over the Flask client with the real database, the card
payments on the in-memory fake of our payment port and a fake ChargerGateway: the checks
before a start, the hold before the remote start, the hold released when the charger
refuses or is unreachable, the link between the start and the session the bridge
records (so billing settles the hold the driver authorized), stop, the live view."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from backend.db.models import Payment, SessionCharge
from backend.db.models.enums import Role
from backend.services import charger_gateway as gw
from backend.services import session_stop
from backend.services import sessions as bridge_sessions
from backend.services.bridge_records import ChargerRef
from backend.services.session_follow_up import follow_up
from backend.services.session_meters import SampleIn, SessionRules
from backend.services.session_outbox import deliver, due
from tests import factories as f
from tests.integration.test_billing_support import card, driver, fake_payments, place, price

RULES = SessionRules()


class FakeGateway(gw.ChargerGateway):
    def __init__(self) -> None:
        self.sent: list[tuple[str, gw.Command]] = []
        self.answer: gw.CommandResult | gw.GatewayError = gw.CommandResult("Accepted")
        self.connected = True

    def send(self, identity: str, command: gw.Command, *, timeout_s: float = 30.0) -> Any:
        self.sent.append((identity, command))
        if isinstance(self.answer, gw.GatewayError):
            raise self.answer
        return self.answer

    def is_connected(self, identity: str) -> bool:
        return self.connected


@pytest.fixture
def world(client, session, container):  # type: ignore[no-untyped-def]
    pay = fake_payments(container)
    charger = FakeGateway()
    container.charger_gateway = charger
    p = place(session)
    version = price(
        session, p, model="fixed_with_idle", energy="2.40", idle="0.50", window=("08:00", "22:00")
    )
    u = driver(session)
    card(session, pay, u)
    other = driver(session, name="Ola Nowak")
    session.commit()
    return {
        "place": p,
        "version": version,
        "driver": u,
        "headers": f.login(client, u),
        "other": other,
        "other_headers": f.login(client, other),
        "charger": charger,
        "pay": pay,
    }


def start(client, w, connector: int = 1, headers=None):  # type: ignore[no-untyped-def]
    body = {"charge_point_id": w["place"].cp.id, "connector_id": connector}
    return client.post("/me/sessions", json=body, headers=headers or w["headers"])


def holds(session) -> list[Payment]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return list(session.scalars(select(Payment).where(Payment.kind == "hold")))


def charger_opens_session(container, w, start_body, clock):  # type: ignore[no-untyped-def]
    """What the bridge does at StartTransaction for the app's idTag."""
    cp = w["place"].cp
    ref = ChargerRef(cp.id, cp.site_id, cp.ocpp_identity, "1.6")
    tag = w["charger"].sent[-1][1].id_tag
    with container.session_factory() as s:
        return bridge_sessions.start_session(
            s,
            ref,
            bridge_sessions.StartIn(1, tag, clock.now.isoformat(), 1_000_000),
            clock.now,
            RULES,
        ), ref


def test_start_places_the_hold_then_remote_starts_with_the_drivers_app_tag(
    client, world, session, clock
):
    r = start(client, world)
    assert r.status_code == 201, r.json
    body = r.json
    assert (body["status"], body["billing_mode"], body["payment"]) == (
        "accepted",
        "per_session",
        "hold_placed",
    )
    ((identity, command),) = world["charger"].sent
    assert identity == world["place"].cp.ocpp_identity
    assert isinstance(command, gw.RemoteStart) and command.connector_id == 1
    assert command.id_tag.startswith("APP-") and len(command.id_tag) == 20
    (hold,) = holds(session)
    assert (hold.status, hold.session_ref, hold.driver_id) == (
        "authorized",
        -body["id"],
        world["driver"].id,
    )
    # Another start of the same driver there: refused, nothing sent.
    again = start(client, world, connector=2)
    assert again.status_code == 409 and again.json["code"] == "session_already_active"
    assert len(world["charger"].sent) == 1
    # Somebody else on the same connector while the first start waits for the car.
    busy = start(client, world, headers=world["other_headers"])
    assert busy.status_code == 409 and busy.json["code"] == "connector_busy"


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        (gw.CommandResult("Rejected"), 409, "charger_rejected"),
        (gw.ChargerOffline("x", "gone"), 409, "charger_offline"),
        (gw.ChargerTimeout("x", "silent"), 504, "charger_timeout"),
        (gw.CommandRejected("x", "NotSupported"), 409, "charger_rejected"),
    ],
)
def test_a_charger_that_does_not_start_releases_the_hold(
    client, world, session, answer, status, code
):
    world["charger"].answer = answer
    r = start(client, world)
    assert r.status_code == status and r.json["code"] == code, r.json
    assert r.json["message"]
    (hold,) = holds(session)
    assert (hold.status, hold.final_amount_minor) == ("released", 0)
    # The failed start does not block the next try.
    world["charger"].answer = gw.CommandResult("Accepted")
    assert start(client, world).status_code == 201


def test_declined_card_means_no_remote_start(client, world, session, container):
    u = driver(session, name="Declined")
    card(session, world["pay"], u, "4000000000000341")
    session.commit()
    r = start(client, world, headers=f.login(client, u))
    assert r.status_code == 402, r.json
    assert world["charger"].sent == []


def test_no_card_and_offline_charger_are_refused_before_anything_is_sent(client, world, session):
    u = driver(session, name="No Card")
    session.commit()
    r = start(client, world, headers=f.login(client, u))
    assert r.status_code == 402 and r.json["code"] == "payment_method_required", r.json
    world["charger"].connected = False
    r = start(client, world)
    assert r.status_code == 409 and r.json["code"] == "charger_offline"
    assert world["charger"].sent == [] and holds(session) == []


def test_invisible_point_and_missing_connector_are_404(client, world, session):
    setup = f.operator(session)
    hidden = f.charge_point(session, f.site(session, setup, visibility="private"))
    session.commit()
    body = {"charge_point_id": hidden.id, "connector_id": 1}
    r = client.post("/me/sessions", json=body, headers=world["headers"])
    missing = client.post(
        "/me/sessions",
        json={"charge_point_id": 999999, "connector_id": 1},
        headers=world["headers"],
    )
    assert (r.status_code, r.json["message"]) == (404, missing.json["message"])
    assert start(client, world, connector=7).status_code == 404
    assert world["charger"].sent == []


def test_the_session_is_linked_billed_on_the_hold_and_shown_live(
    client, world, session, container, clock
):
    body = start(client, world).json
    outcome, ref = charger_opens_session(container, world, body, clock)
    polled = client.get(f"/me/session-starts/{body['id']}", headers=world["headers"])
    assert polled.json["status"] == "started"
    sid = polled.json["session_id"]
    assert sid == outcome.session_id
    (hold,) = holds(session)
    assert hold.session_ref == sid  # re-keyed: billing finds the driver's hold
    # Another driver's start and session are missing for them.
    other = world["other_headers"]
    assert client.get(f"/me/session-starts/{body['id']}", headers=other).status_code == 404
    assert client.get(f"/me/sessions/{sid}", headers=other).status_code == 404
    assert client.post(f"/me/sessions/{sid}/stop", headers=other).status_code == 404

    # 20 minutes at 11 kW: the register moved 3,667 Wh.
    clock.advance(minutes=20)
    with container.session_factory() as s:
        from backend.db.models import ChargingSession
        from backend.services.session_samples import store_samples

        row = s.get(ChargingSession, sid)
        store_samples(
            s,
            ref,
            row,
            (
                SampleIn(clock.now.isoformat(), "1003667", "Energy.Active.Import.Register", "Wh"),
                SampleIn(clock.now.isoformat(), "11000", "Power.Active.Import", "W"),
            ),
            clock.now,
            RULES,
        )
        s.commit()
    world["headers"] = f.login(client, world["driver"])  # access tokens live 15 minutes
    live = client.get(f"/me/sessions/{sid}", headers=world["headers"]).json
    assert (live["state"], live["energy_kwh"], live["power_kw"]) == ("charging", "3.667", "11.000")
    assert live["cost_so_far"] == "8.80"  # 3.667 kWh × 2.40 = 8.8008 → 8.80
    assert live["duration_s"] == 20 * 60 and live["start_id"] == body["id"]

    stop = client.post(f"/me/sessions/{sid}/stop", headers=world["headers"])
    assert stop.status_code == 200, stop.json
    assert world["charger"].sent[-1][1] == gw.RemoteStop(str(outcome.ocpp_transaction_id))

    # The charger stops and the car leaves; the outbox tells billing (through our port).
    with container.session_factory() as s:
        session_stop.stop_session(
            s,
            ref,
            session_stop.StopIn(
                clock.now.isoformat(),
                1_003_667,
                "Remote",
                ocpp_transaction_id=outcome.ocpp_transaction_id,
                unplugged=True,
            ),
            clock.now,
            RULES,
        )
        for outbox_id in due(s, clock.now):
            assert deliver(s, outbox_id, container.session_ended, clock.now)
    ended = client.get(f"/me/sessions/{sid}", headers=world["headers"]).json
    assert (ended["state"], ended["amount"], ended["billing_status"]) == ("ended", "8.80", "paid")
    assert ended["receipt_id"] is not None
    (hold,) = holds(session)
    assert (hold.status, hold.captured_minor) == ("captured", 880)
    kinds = [n["kind"] for n in client.get("/me/notifications", headers=world["headers"]).json]
    assert sorted(kinds) == ["session_ended", "session_started"]
    listed = client.get("/me/sessions", headers=world["headers"]).json
    assert [x["id"] for x in listed] == [sid]
    other = f.login(client, world["other"])
    assert client.get("/me/sessions", headers=other).json == []
    assert client.post(f"/me/sessions/{sid}/stop", headers=world["headers"]).status_code == 409
    charge = session.scalar(select(SessionCharge).where(SessionCharge.session_id == sid))
    assert charge is not None and charge.payment_id == hold.id


def test_a_start_the_car_never_came_to_fails_and_releases_the_hold(
    client, world, session, container, clock
):
    body = start(client, world).json
    clock.advance(minutes=6)
    with container.session_factory() as s:
        follow_up(s, container.billing, container.notifications, clock.now)
    world["headers"] = f.login(client, world["driver"])
    polled = client.get(f"/me/session-starts/{body['id']}", headers=world["headers"]).json
    assert (polled["status"], polled["error_code"]) == ("failed", "not_plugged_in")
    (hold,) = holds(session)
    assert hold.status == "released"


def test_staff_see_the_sessions_at_their_own_sites(client, world, session, container, clock):
    body = start(client, world).json
    outcome, _ = charger_opens_session(container, world, body, clock)
    op = world["place"].setup.operator
    staff = f.user(session, Role.OPERATOR_STAFF, operator_id=op.id)
    other_op = f.operator(session)
    stranger = f.user(session, Role.OPERATOR_STAFF, operator_id=other_op.operator.id)
    session.commit()
    mine = client.get(f"/operators/{op.id}/sessions", headers=f.login(client, staff))
    assert [x["id"] for x in mine.json] == [outcome.session_id]
    assert mine.json[0]["driver_id"] == world["driver"].id
    theirs = client.get(f"/operators/{op.id}/sessions", headers=f.login(client, stranger))
    assert theirs.status_code == 404
    own = client.get(
        f"/operators/{other_op.operator.id}/sessions", headers=f.login(client, stranger)
    )
    assert own.json == []


def test_a_public_station_wants_a_plan_before_anything_else(client, world, session):
    from datetime import date
    from decimal import Decimal

    from backend.db.models import OperatorContract

    op = f.operator(session)
    session.add(
        OperatorContract(
            operator_id=op.operator.id, business_case="PUB", currency="PLN",
            agreed_price_per_kwh_net=Decimal("0.90"), valid_from=date(2026, 1, 1),
        )
    )  # fmt: skip
    cp = f.charge_point(session, f.site(session, op))
    session.commit()
    body = {"charge_point_id": cp.id, "connector_id": 1}
    r = client.post("/me/sessions", json=body, headers=world["headers"])
    assert r.status_code == 403 and r.json["code"] == "plan_required", r.json
    assert world["charger"].sent == [] and holds(session) == []


@pytest.mark.parametrize(
    ("mode", "decision"),
    [("monthly", "card_on_file"), ("operator_invoiced", "no_payment_needed")],
)
def test_the_price_versions_billing_mode_decides_the_payment(
    client, world, session, mode, decision
):
    world["version"].billing_mode = mode
    session.commit()
    r = start(client, world)
    assert r.status_code == 201, r.json
    assert (r.json["billing_mode"], r.json["payment"]) == (mode, decision)
    assert holds(session) == []
    assert len(world["charger"].sent) == 1


def test_a_card_that_needs_3d_secure_is_asked_for_before_the_start(client, world, session):
    u = driver(session, name="Three D")
    card(session, world["pay"], u, "4000002500003155")
    session.commit()
    r = start(client, world, headers=f.login(client, u))
    assert r.status_code == 402 and r.json["code"] == "authentication_required", r.json
    assert world["charger"].sent == []
