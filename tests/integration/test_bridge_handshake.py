"""The handshake over real websockets: subprotocol negotiation, HTTP Basic auth
(security profile 1) and its cache, TLS (profile 2), newest connection wins."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path

import pytest
from ocpp.v16 import call as c16
from ocpp.v201 import call as c201
from websockets.exceptions import ConnectionClosed, InvalidStatus

from backend.db.models import ChargePoint
from backend.security.passwords import hash_password
from tests import factories as f
from tests.integration.bridge_harness import eventually, run, running_bridge


@pytest.fixture
def cp(session) -> ChargePoint:  # type: ignore[no-untyped-def]
    setup = f.operator(session)
    charge_point = f.charge_point(session, f.site(session, setup))
    f.charger_password(session, charge_point)
    session.commit()
    return charge_point


def _status(container, cp_id: int) -> str:  # type: ignore[no-untyped-def]
    with container.session_factory() as s:
        return s.get(ChargePoint, cp_id).status  # type: ignore[union-attr]


def test_ocpp201_is_chosen_when_a_charger_offers_both(container, clock, cp) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            ws = await h.open(cp.ocpp_identity, subprotocols=("ocpp1.6", "ocpp2.0.1"))
            assert ws.subprotocol == "ocpp2.0.1"
            await eventually(lambda: bool(h.recorder.named("charger_connected")))
            assert h.recorder.named("charger_connected") == [(cp.ocpp_identity, "2.0.1")]
            assert h.bridge.registry.get(cp.ocpp_identity).ocpp_version == "2.0.1"  # type: ignore[union-attr]
            assert _status(container, cp.id) == "online"

    run(scenario())


def test_the_identity_may_come_without_the_ocpp_prefix(container, clock, cp) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            url = f"ws://127.0.0.1:{h.bridge.port}/{cp.ocpp_identity}"
            ws = await h.open(cp.ocpp_identity, path=url)
            assert ws.subprotocol == "ocpp1.6"

    run(scenario())


@pytest.mark.parametrize("offered", [(), ("ocpp1.5",), ("ocpp2.1", "wamp")])
def test_no_or_an_unsupported_subprotocol_is_refused_with_400(
    container, clock, cp, offered
) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            with pytest.raises(InvalidStatus) as refused:
                await h.open(cp.ocpp_identity, subprotocols=offered)
            response = refused.value.response
            assert response.status_code == 400
            assert b"speaks ocpp2.0.1, ocpp1.6" in response.body
            assert len(h.bridge.registry) == 0

    run(scenario())


def test_unknown_identities_and_wrong_passwords_never_get_a_websocket(container, clock, cp) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            with pytest.raises(InvalidStatus) as unknown:
                await h.open("CP-NOPE")
            assert unknown.value.response.status_code == 404

            with pytest.raises(InvalidStatus) as wrong:
                await h.open(cp.ocpp_identity, password="guess")
            assert wrong.value.response.status_code == 401
            assert wrong.value.response.headers["WWW-Authenticate"].startswith("Basic")

            # Someone else's identity as the username: 401 even with a right password.
            url = f"{h.url}/{cp.ocpp_identity}"
            with pytest.raises(InvalidStatus) as other:
                await h.open("CP-OTHER", path=url)
            assert other.value.response.status_code == 401

            from websockets.asyncio.client import connect

            with pytest.raises(InvalidStatus) as anonymous:
                await connect(url, subprotocols=["ocpp1.6"])  # type: ignore[list-item]
            assert anonymous.value.response.status_code == 401
            assert len(h.bridge.registry) == 0 and not h.recorder.events

    run(scenario())


def test_a_checked_password_is_cached_until_the_stored_hash_changes(container, clock, cp) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            auth = h.bridge.authenticator
            for _ in range(3):  # a reconnect storm in miniature
                ws = await h.open(cp.ocpp_identity)
                await ws.close()
            assert auth.verifications == 1

            with container.session_factory() as s:  # the operator rotates the password
                s.get(ChargePoint, cp.id).password_hash = hash_password("rotated-password")  # type: ignore[union-attr]
                s.commit()
            with pytest.raises(InvalidStatus) as old:
                await h.open(cp.ocpp_identity)
            assert old.value.response.status_code == 401
            await h.open(cp.ocpp_identity, password="rotated-password")
            await h.open(cp.ocpp_identity, password="rotated-password")
            assert auth.verifications == 3  # the old password once more, the new one once

    run(scenario())


def test_password_guessing_is_throttled_without_locking_out_the_real_charger(
    container, clock, cp
) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            auth = h.bridge.authenticator
            await (await h.open(cp.ocpp_identity)).close()  # the charger was seen before
            runs = auth.verifications
            for n in range(auth.per_identity.limit):
                with pytest.raises(InvalidStatus) as wrong:
                    await h.open(cp.ocpp_identity, password=f"guess-{n}")
                assert wrong.value.response.status_code == 401
            with pytest.raises(InvalidStatus) as throttled:
                await h.open(cp.ocpp_identity, password="one-more-guess")
            response = throttled.value.response
            assert response.status_code == 429
            assert int(response.headers["Retry-After"]) > 0
            assert b"try again in" in response.body
            # The guess past the limit cost no argon2 run …
            assert auth.verifications == runs + auth.per_identity.limit
            # … and the charger with its real password still gets in.
            ws = await h.open(cp.ocpp_identity)
            assert ws.subprotocol == "ocpp1.6"

    run(scenario())


def test_probing_unknown_identities_from_one_address_is_throttled(container, clock, cp) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            limit = h.bridge.authenticator.per_address.limit
            for n in range(limit):
                with pytest.raises(InvalidStatus) as unknown:
                    await h.open(f"CP-PROBE-{n}")
                assert unknown.value.response.status_code == 404
            with pytest.raises(InvalidStatus) as throttled:
                await h.open("CP-PROBE-LAST")
            assert throttled.value.response.status_code == 429

    run(scenario())


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_the_newest_connection_wins_and_the_old_is_closed(container, clock, cp, version) -> None:  # type: ignore[no-untyped-def]
    heartbeat = c16.Heartbeat() if version == "1.6" else c201.Heartbeat()

    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            old = await h.open(cp.ocpp_identity, subprotocols=(f"ocpp{version}",))
            await eventually(lambda: cp.ocpp_identity in h.bridge.registry)
            first = h.bridge.registry.get(cp.ocpp_identity)
            new = await h.charger(cp.ocpp_identity, version)
            await eventually(lambda: h.bridge.registry.get(cp.ocpp_identity) is not first)
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(old.recv(), timeout=5)
            assert old.close_reason == "replaced by a newer connection"
            # The new connection works, and losing the old one was no disconnect.
            answer = await new.call(heartbeat, suppress=False)
            assert answer.current_time.startswith("2026-11-20T12:00")
            assert h.recorder.named("charger_disconnected") == []
            assert _status(container, cp.id) == "online"

            await h.sockets[-1].close()
            await eventually(lambda: cp.ocpp_identity not in h.bridge.registry)
            await eventually(lambda: bool(h.recorder.named("charger_disconnected")))
            assert h.recorder.named("charger_disconnected") == [(cp.ocpp_identity,)]
            assert _status(container, cp.id) == "offline"

    run(scenario())


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(  # noqa: S603 (fixed arguments)
        [  # noqa: S607
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_security_profile_2_serves_wss_with_the_configured_certificate(
    container, clock, cp, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    cert, key = _self_signed(tmp_path)
    trusting = ssl.create_default_context(cafile=str(cert))

    async def scenario() -> None:
        async with running_bridge(container, clock, tls_cert=str(cert), tls_key=str(key)) as h:
            assert h.url.startswith("wss://")
            charger = await h.charger(cp.ocpp_identity, ssl_context=trusting)
            answer = await charger.call(
                c16.BootNotification(charge_point_vendor="Acme", charge_point_model="AC22"),
                suppress=False,
            )
            assert answer.status == "Accepted"
            # A client that does not trust the certificate gets no connection.
            with pytest.raises(ssl.SSLCertVerificationError):
                await h.open(cp.ocpp_identity, ssl_context=ssl.create_default_context())
            # Basic auth still applies inside TLS (profile 2 = profile 1 + TLS).
            with pytest.raises(InvalidStatus):
                await h.open(cp.ocpp_identity, password="x", ssl_context=trusting)

    run(scenario())
