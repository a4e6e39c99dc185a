"""Firebase Cloud Messaging through firebase-admin's real code path, on loopback.

A local HTTP server stands in for Google: its token endpoint checks the signed JWT grant
the SDK makes from a freshly generated service-account key and hands out an access
token; its FCM v1 endpoint records each message and answers as FCM does (a message name,
or an error with FCM's error details). The SDK is pointed at it the way stack-notes.md
describes: `token_uri` in the key, `_MessagingService.FCM_URL`, and google-auth's
regional-access-boundary lookup turned off. Any connection to anything but loopback
fails the test.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from firebase_admin import messaging
from google.auth.credentials import CredentialsWithRegionalAccessBoundary

from backend.adapters.fcm import FcmNotifier, FirebaseConfigError
from backend.app import create_app
from backend.bootstrap import bootstrap
from backend.config import Settings
from backend.db.models import NotificationDelivery
from backend.db.models.enums import Role
from backend.services import notification_events as ev
from backend.services.notifier import SendOutcome
from shared.money import Money
from tests import factories as f

PROJECT = "wattpass-test"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # what the SDK signs for
FCM_SCOPE = "https://www.googleapis.com/auth/firebase"


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGoogle:
    """What the SDK sent, and what to answer next."""

    port: int = 0
    public_key: Any = None
    client_email: str = ""
    token_requests: list[Seen] = field(default_factory=list)
    sends: list[Seen] = field(default_factory=list)
    answers: deque[tuple[int, dict[str, Any]]] = field(default_factory=deque)
    issued: list[str] = field(default_factory=list)

    def unregistered(self) -> None:
        self.answers.append((404, _fcm_error(404, "NOT_FOUND", "UNREGISTERED")))

    def quota_exceeded(self) -> None:
        self.answers.append((429, _fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED")))


def _fcm_error(code: int, status: str, fcm_code: str) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": "Requested entity was not found." if code == 404 else "Quota exceeded.",
            "status": status,
            "details": [
                {
                    "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                    "errorCode": fcm_code,
                }
            ],
        }
    }


def _handler(google: FakeGoogle) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep the test output quiet
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            if self.path == "/token":
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                google.token_requests.append(Seen(self.path, headers, form))
                try:
                    claims = jwt.decode(
                        form["assertion"],
                        google.public_key,
                        algorithms=["RS256"],
                        audience=GOOGLE_TOKEN_AUDIENCE,
                        issuer=google.client_email,
                    )
                except jwt.InvalidTokenError as exc:
                    self._answer(400, {"error": "invalid_grant", "error_description": str(exc)})
                    return
                assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
                assert FCM_SCOPE in claims["scope"].split()
                token = f"ya29.loopback-{len(google.issued) + 1}"
                google.issued.append(token)
                self._answer(
                    200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}
                )
            elif self.path == f"/v1/projects/{PROJECT}/messages:send":
                google.sends.append(Seen(self.path, headers, json.loads(raw)))
                if google.answers:
                    self._answer(*google.answers.popleft())
                else:
                    n = len(google.sends)
                    self._answer(200, {"name": f"projects/{PROJECT}/messages/{n}"})
            else:
                self._answer(404, {"error": {"code": 404, "message": "no such endpoint"}})

    return Handler


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Refuse (and remember) any connection that would leave the machine."""
    refused: list[Any] = []
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in (
            "127.0.0.1",
            "::1",
            "localhost",
        ):
            refused.append(address)
            raise ConnectionRefusedError(f"test: no network beyond loopback ({address[0]})")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return refused


@pytest.fixture
def google(monkeypatch: pytest.MonkeyPatch, loopback_only: list[Any]) -> Iterator[FakeGoogle]:
    fake = FakeGoogle()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setattr(
        messaging._MessagingService,
        "FCM_URL",
        f"http://127.0.0.1:{fake.port}/v1/projects/{{0}}/messages:send",
    )
    monkeypatch.setattr(
        CredentialsWithRegionalAccessBoundary,
        "_is_regional_access_boundary_lookup_required",
        lambda self: False,
    )
    yield fake
    server.shutdown()
    server.server_close()
    assert loopback_only == [], f"the SDK tried to leave loopback: {loopback_only}"


@pytest.fixture
def service_account(google: FakeGoogle) -> dict[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    google.public_key = key.public_key()
    google.client_email = f"firebase-adminsdk@{PROJECT}.iam.gserviceaccount.com"
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "loopback-key-1",
        "private_key": pem,
        "client_email": google.client_email,
        "client_id": "1234567890",
        "token_uri": f"http://127.0.0.1:{google.port}/token",
    }


@pytest.fixture
def fcm(service_account: dict[str, str]) -> Iterator[FcmNotifier]:
    notifier = FcmNotifier(service_account)
    yield notifier
    notifier.close()


# --- the adapter ------------------------------------------------------------------------


def test_a_message_reaches_fcm_exactly_as_sent(google, fcm, caplog):
    caplog.set_level(logging.DEBUG)
    result = fcm.send("device-token-1", "Charging started", "At Garage A.", {"session_id": "7"})

    assert result.outcome == SendOutcome.SENT
    assert result.message_id == f"projects/{PROJECT}/messages/1"
    [sent] = google.sends
    assert sent.body == {
        "message": {
            "token": "device-token-1",
            "notification": {"title": "Charging started", "body": "At Garage A."},
            "data": {"session_id": "7"},
        }
    }
    assert sent.headers["authorization"] == f"Bearer {google.issued[0]}"
    assert len(google.token_requests) == 1  # the signed grant was accepted once
    # The key never shows up in the logs, even at DEBUG.
    assert "PRIVATE KEY" not in caplog.text


def test_the_access_token_is_reused_for_later_messages(google, fcm):
    for n in range(3):
        assert fcm.send(f"token-{n}", "t", "b", {}).outcome == SendOutcome.SENT
    assert len(google.token_requests) == 1
    assert {s.headers["authorization"] for s in google.sends} == {f"Bearer {google.issued[0]}"}


def test_an_unregistered_token_is_reported_as_dead(google, fcm):
    google.unregistered()
    result = fcm.send("uninstalled-app", "t", "b", {})
    assert result.outcome == SendOutcome.UNREGISTERED
    assert google.sends[0].body["message"]["token"] == "uninstalled-app"


def test_other_fcm_errors_are_failures_to_retry(google, fcm):
    google.quota_exceeded()
    result = fcm.send("token", "t", "b", {})
    assert result.outcome == SendOutcome.FAILED
    assert result.error == "FCM RESOURCE_EXHAUSTED: QuotaExceededError"


def test_an_unreachable_fcm_is_a_failure_not_an_exception(google, service_account, monkeypatch):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    monkeypatch.setattr(
        messaging._MessagingService, "FCM_URL", f"http://127.0.0.1:{port}/v1/projects/{{0}}/x"
    )
    notifier = FcmNotifier(service_account)
    try:
        result = notifier.send("token", "t", "b", {})
    finally:
        notifier.close()
    assert result.outcome == SendOutcome.FAILED
    assert result.error is not None and result.error.startswith("FCM UNAVAILABLE")


def test_a_refused_grant_is_a_failure_not_an_exception(google, service_account):
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = {
        **service_account,
        "private_key": other_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    }
    notifier = FcmNotifier(forged)
    try:
        result = notifier.send("token", "t", "b", {})
    finally:
        notifier.close()
    assert result.outcome == SendOutcome.FAILED
    assert result.error == "FCM: RefreshError"
    assert google.sends == []


# --- configuration ----------------------------------------------------------------------


def test_bootstrap_uses_firebase_when_credentials_are_configured(
    google, service_account, tmp_path: Path, settings: Settings
):
    key_file = tmp_path / "service-account.json"
    key_file.write_text(json.dumps(service_account))
    configured = Settings.from_env(
        database_url=settings.database_url,
        secret_key=settings.secret_key,
        firebase_credentials=str(key_file),
    )
    c = bootstrap(configured)
    try:
        assert isinstance(c.notifications.notifier, FcmNotifier)
        assert c.notifications.notifier.project_id == PROJECT
        assert "push=fcm" in repr(configured)
        assert service_account["private_key"] not in repr(configured)
    finally:
        c.close()


def test_an_unusable_key_file_is_reported_without_its_contents(tmp_path: Path):
    secret = "-----BEGIN PRIVATE KEY-----\\nMIIEsecret\\n-----END PRIVATE KEY-----"
    broken = tmp_path / "key.json"
    broken.write_text(json.dumps({"type": "service_account", "private_key": secret}))
    with pytest.raises(FirebaseConfigError) as err:
        FcmNotifier.from_file(broken)
    assert "MIIEsecret" not in str(err.value)
    with pytest.raises(FirebaseConfigError, match="cannot read"):
        FcmNotifier.from_file(tmp_path / "missing.json")
    (tmp_path / "not-json").write_text("{" + secret)
    with pytest.raises(FirebaseConfigError) as err:
        FcmNotifier.from_file(tmp_path / "not-json")
    assert "MIIEsecret" not in str(err.value)


# --- end to end: the API, the queue and FCM ---------------------------------------------


@pytest.fixture
def fcm_client(container, fcm, clock):  # type: ignore[no-untyped-def]
    """The app wired with Firebase (the `container` fixture still cleans the tables)."""
    c = bootstrap(container.settings, clock=clock, notifier=fcm)
    app = create_app(container=c)
    app.config["TESTING"] = True
    yield app.test_client(), c
    c.engine.dispose()


def test_notify_pushes_through_fcm_and_a_dead_token_drops_the_device(google, fcm_client, session):
    client, c = fcm_client
    driver = f.user(session, Role.DRIVER)
    session.commit()
    headers = f.login(client, driver)
    for token in ("old-phone", "new-phone"):
        r = client.post(
            "/me/devices", json={"token": token, "platform": "android"}, headers=headers
        )
        assert r.status_code == 201, r.json
    google.unregistered()  # the first push, to old-phone, meets an uninstalled app

    with c.session_factory() as s:
        event = ev.SessionEnded(9, "Garage A", Decimal("7.5"), Money.of("30", "PLN"))
        note = c.notifications.notify(s, driver.id, event)

    assert note is not None
    assert [x.body["message"]["token"] for x in google.sends] == ["old-phone", "new-phone"]
    assert google.sends[1].body["message"] == {
        "token": "new-phone",
        "notification": {
            "title": "Sesja ładowania zakończona",
            "body": "Naładowano 7,50 kWh na stacji Garage A. Koszt: 30,00 PLN.",
        },
        "data": {"kind": "session_ended", "notification_id": str(note.id), "session_id": "9"},
    }
    assert all(x.headers["authorization"].startswith("Bearer ya29.loopback-") for x in google.sends)
    listed = client.get("/me/devices", headers=headers).json
    assert [d["token"] for d in listed] == ["new-phone"]
    assert client.get("/me/notifications/unread-count", headers=headers).json == {"unread": 1}


def test_a_quota_error_is_retried_later_with_back_off(google, fcm_client, session, clock):
    client, c = fcm_client
    driver = f.user(session, Role.DRIVER)
    session.commit()
    headers = f.login(client, driver)
    client.post("/me/devices", json={"token": "phone", "platform": "ios"}, headers=headers)
    google.quota_exceeded()

    with c.session_factory() as s:
        c.notifications.notify(s, driver.id, ev.SessionStarted(3, "Garage A"))
        [d] = s.query(NotificationDelivery).all()
        assert (d.status, d.attempts) == ("pending", 1)
        assert d.last_error == "FCM RESOURCE_EXHAUSTED: QuotaExceededError"
        clock.advance(seconds=30)
        report = c.notifications.deliver_pending(s, clock())

    assert report.sent == 1
    assert len(google.sends) == 2
    assert google.sends[0].body == google.sends[1].body
