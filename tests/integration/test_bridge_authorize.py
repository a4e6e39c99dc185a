"""Authorize over the wire in both versions (Accepted / Blocked / Expired / Invalid), and
an app-started session: the backend's RemoteStart carries the driver's app idTag, and
the session the charger then starts belongs to that driver, priced by their membership."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from ocpp.v16 import call as c16
from ocpp.v201 import call as c201
from sqlalchemy import select

from backend.db.models import ChargingSession
from backend.db.models.enums import Role
from backend.services import charger_gateway as gw
from backend.services.session_access import app_id_tag
from tests import factories as f
from tests.integration.bridge_harness import run, running_bridge


@pytest.fixture
def hotel(session, clock) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    setup = f.operator(session, "Hotel")
    site = f.site(session, setup, visibility="private")
    cp = f.charge_point(session, site)
    f.charger_password(session, cp)
    guest, expired, stranger = (f.user(session, Role.DRIVER) for _ in range(3))
    f.membership(session, guest, setup, [site], ends_at=clock.now + timedelta(days=1))
    f.membership(session, expired, setup, [site], ends_at=clock.now - timedelta(hours=1))
    f.rfid_token(session, setup, "B10CKED", blocked_at=clock.now - timedelta(days=1))
    version = f.price_version(session, site, setup.company)
    session.commit()
    tags = {name: app_id_tag(session, u.id) for name, u in
            (("guest", guest), ("expired", expired), ("stranger", stranger))}  # fmt: skip
    return {"identity": cp.ocpp_identity, "tags": tags, "guest": guest, "version": version}


EXPECTED = {"guest": "Accepted", "expired": "Expired", "stranger": "Invalid",
            "B10CKED": "Blocked", "NOBODY": "Invalid"}  # fmt: skip


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_authorize_answers_in_the_chargers_words(container, clock, hotel, version) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            cp = await h.charger(hotel["identity"], version)
            for who, expected in EXPECTED.items():
                tag = hotel["tags"].get(who, who)
                if version == "1.6":
                    answer = await cp.call(c16.Authorize(id_tag=tag), suppress=False)
                else:
                    token = {"id_token": tag, "type": "ISO14443"}
                    answer = await cp.call(c201.Authorize(id_token=token), suppress=False)
                info = answer.id_tag_info if version == "1.6" else answer.id_token_info
                assert info["status"] == expected, who

    run(scenario())


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_an_app_started_session_belongs_to_the_driver(container, clock, hotel, version) -> None:  # type: ignore[no-untyped-def]
    tag = hotel["tags"]["guest"]

    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            cp = await h.charger(hotel["identity"], version)
            result = await h.bridge.registry.execute(
                hotel["identity"], gw.RemoteStart(1, tag), timeout_s=5
            )
            assert result.accepted
            # The charger does what it was asked, with the tag it was given.
            if version == "1.6":
                assert cp.received[-1][1]["id_tag"] == tag
                await cp.call(
                    c16.StartTransaction(connector_id=1, id_tag=tag, meter_start=42,
                                         timestamp=h.ts()),
                    suppress=False,
                )  # fmt: skip
            else:
                token = cp.received[-1][1]["id_token"]
                assert token == {"id_token": tag, "type": "Central"}
                await cp.call(
                    c201.TransactionEvent(
                        event_type="Started", timestamp=h.ts(), trigger_reason="RemoteStart",
                        seq_no=0, transaction_info={"transaction_id": "r-1"},
                        evse={"id": 1}, id_token=token,
                    ),
                    suppress=False,
                )  # fmt: skip

        with container.session_factory() as s:
            session = s.scalars(select(ChargingSession)).one()
        assert session.id_tag == tag and session.driver_id == hotel["guest"].id
        assert session.membership_id is not None and session.auth_status == "Accepted"
        assert session.price_version_id == hotel["version"].id

    run(scenario())
