"""POST /operators/{id}/charge-points/{id}/commands and the health endpoints, with a
fake ChargerGateway in the container (the adapters have tests of their own): the
charger's answer comes back, delivery problems are 409/502/503/504 in the one error
shape, every command is in the charger's health history, and another operator's
charger does not exist."""

from __future__ import annotations

from typing import Any

import pytest

from backend.db.models.enums import Role
from backend.services import charger_gateway as gw
from tests import factories as f


class FakeGateway(gw.ChargerGateway):
    def __init__(self) -> None:
        self.sent: list[tuple[str, gw.Command, float]] = []
        self.answer: gw.CommandResult | gw.GatewayError = gw.CommandResult("Accepted")

    def send(
        self, identity: str, command: gw.Command, *, timeout_s: float = 30.0
    ) -> gw.CommandResult:
        self.sent.append((identity, command, timeout_s))
        if isinstance(self.answer, gw.GatewayError):
            raise self.answer
        return self.answer

    def is_connected(self, identity: str) -> bool:
        return True


@pytest.fixture
def world(client, session, container):  # type: ignore[no-untyped-def]
    mine, theirs = f.operator(session), f.operator(session)
    cp = f.charge_point(session, f.site(session, mine), connectors=2)
    other = f.charge_point(session, f.site(session, theirs))
    staff = f.user(session, Role.OPERATOR_STAFF, operator_id=mine.operator.id)
    session.commit()
    gateway = FakeGateway()
    container.charger_gateway = gateway
    url = f"/operators/{mine.operator.id}/charge-points/{cp.id}"
    return {
        "url": url,
        "other_url": f"/operators/{mine.operator.id}/charge-points/{other.id}",
        "identity": cp.ocpp_identity,
        "headers": f.login(client, staff),
        "gateway": gateway,
        "staff_id": staff.id,
    }


def post(client, w, body: dict[str, Any]):  # type: ignore[no-untyped-def]
    return client.post(w["url"] + "/commands", json=body, headers=w["headers"])


@pytest.mark.parametrize(
    ("body", "command", "answer"),
    [
        ({"type": "reset"}, gw.Reset(hard=False), "Accepted"),
        ({"type": "reset", "mode": "hard"}, gw.Reset(hard=True), "Accepted"),
        ({"type": "unlock", "connector_id": 2}, gw.UnlockConnector(2), "Unlocked"),
        (
            {"type": "availability", "connector_id": 0, "operative": False},
            gw.ChangeAvailability(0, False),
            "Scheduled",
        ),
        ({"type": "reset"}, gw.Reset(hard=False), "Rejected"),
    ],
)
def test_the_command_reaches_the_gateway_and_the_answer_comes_back(
    client, world, body, command, answer
):
    world["gateway"].answer = gw.CommandResult(answer, {"note": "x"})
    r = post(client, world, body)
    assert r.status_code == 200, r.json
    assert r.json == {
        "type": body["type"],
        "status": answer,
        "accepted": answer != "Rejected",
        "data": {"note": "x"},
    }
    assert world["gateway"].sent == [(world["identity"], command, 30.0)]
    history = client.get(world["url"] + "/health-actions", headers=world["headers"]).json
    assert len(history) == 1
    assert history[0]["result"] == answer
    assert history[0]["automatic"] is False and history[0]["user_id"] == world["staff_id"]


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (gw.ChargerOffline("X", "gone"), 409, "charger_offline"),
        (gw.ChargerTimeout("X", "slow"), 504, "charger_timeout"),
        (gw.CommandRejected("X", "NotSupported: no"), 502, "charger_error"),
        (gw.GatewayError("X", "Redis is down"), 503, "charger_connection_unavailable"),
    ],
)
def test_delivery_problems_are_clear_errors_and_recorded(client, world, error, status, code):
    world["gateway"].answer = error
    r = post(client, world, {"type": "unlock", "connector_id": 1})
    assert r.status_code == status
    assert set(r.json) == {"code", "status", "message", "errors"}
    assert r.json["code"] == code
    history = client.get(world["url"] + "/health-actions", headers=world["headers"]).json
    assert [(h["action"], h["result"]) for h in history] == [("unlock", error.code)]


def test_no_gateway_configured_is_503(client, world, container):
    container.charger_gateway = None
    r = post(client, world, {"type": "reset"})
    assert r.status_code == 503
    assert r.json["code"] == "charger_connection_unavailable"
    assert "not available" in r.json["message"]
    assert r.headers["Retry-After"] == "10"


def test_another_operators_charger_is_404_and_gets_nothing(client, world):
    r = client.post(
        world["other_url"] + "/commands", json={"type": "reset"}, headers=world["headers"]
    )
    assert r.status_code == 404
    for suffix in ("/health-actions", "/health"):
        assert client.get(world["other_url"] + suffix, headers=world["headers"]).status_code == 404
    assert world["gateway"].sent == []


@pytest.mark.parametrize(
    "body",
    [
        {"type": "explode"},
        {"type": "unlock"},
        {"type": "unlock", "connector_id": 3},
        {"type": "unlock", "connector_id": 0},
        {"type": "availability", "connector_id": 1},
        {"type": "reset", "mode": "gentle"},
    ],
)
def test_invalid_commands_are_422_before_anything_is_sent(client, world, body):
    r = post(client, world, body)
    assert r.status_code == 422, r.json
    assert world["gateway"].sent == []


def test_health_shows_the_ladder_state(client, world):
    r = client.get(world["url"] + "/health", headers=world["headers"])
    assert r.status_code == 200
    assert r.json["state"] == "ok" and r.json["status"] == "online"
    assert r.json["resets_in_episode"] == 0
