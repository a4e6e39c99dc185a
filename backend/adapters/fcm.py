"""Firebase Cloud Messaging behind the notifier port (firebase-admin, FCM HTTP v1).

The service-account key comes from FIREBASE_CREDENTIALS (a path to its JSON file). The
key is a secret: it is never logged, and an unreadable file is reported by its path and
the kind of problem only. Each notifier initialises its own named firebase-admin app, so
several containers (tests, workers) never share or clobber the SDK's global default.

Outcomes: FCM's UNREGISTERED (HTTP 404, `messaging.UnregisteredError`) means the app was
uninstalled or the token expired — the device is dropped. Every other error is a failed
send to try again later. SENDER_ID_MISMATCH is deliberately *not* treated as a dead
token: it is what every token reports when the platform is configured with the wrong
Firebase project, and dropping all devices for a configuration mistake would be worse
than retrying.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import firebase_admin
from firebase_admin import credentials, exceptions, messaging
from google.auth import exceptions as auth_exceptions

from backend.services.notifier import Notifier, SendResult

log = logging.getLogger(__name__)

HTTP_TIMEOUT_SECONDS = 10


class FirebaseConfigError(ValueError):
    """The service-account key cannot be used; the message never contains the key."""


def load_service_account(path: str | Path) -> dict[str, Any]:
    """Read the service-account JSON, saying what is wrong without echoing any of it."""
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise FirebaseConfigError(
            f"FIREBASE_CREDENTIALS: cannot read {path} ({type(exc).__name__})"
        ) from None
    except ValueError:
        raise FirebaseConfigError(f"FIREBASE_CREDENTIALS: {path} is not JSON") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise FirebaseConfigError(
            f"FIREBASE_CREDENTIALS: {path} is not a service-account key "
            '(expected "type": "service_account")'
        )
    return info


class FcmNotifier(Notifier):
    def __init__(
        self, service_account: Mapping[str, Any], *, project_id: str | None = None
    ) -> None:
        try:
            credential = credentials.Certificate(dict(service_account))
        except ValueError:
            # firebase-admin's message may quote the key's fields; ours does not.
            raise FirebaseConfigError(
                "FIREBASE_CREDENTIALS: the service-account key is incomplete or invalid"
            ) from None
        options: dict[str, Any] = {"httpTimeout": HTTP_TIMEOUT_SECONDS}
        if project_id:
            options["projectId"] = project_id
        self._app = firebase_admin.initialize_app(
            credential, options, name=f"wattpass-{uuid.uuid4().hex}"
        )

    @classmethod
    def from_file(cls, path: str | Path, *, project_id: str | None = None) -> FcmNotifier:
        return cls(load_service_account(path), project_id=project_id)

    @property
    def project_id(self) -> str | None:
        project: str | None = self._app.project_id
        return project

    def send(self, token: str, title: str, body: str, data: Mapping[str, str]) -> SendResult:
        message = messaging.Message(
            notification=messaging.Notification(title=title, body=body), data=dict(data)
        )
        # The app registers an FCM registration token, so that is what we address.
        # firebase-admin 7.5+ marks `Message(token=...)` deprecated in favour of `fid`
        # (Firebase installation ids), but FCM v1 still takes tokens; setting the field
        # after construction sends exactly the same JSON without a warning per message
        # (warnings.catch_warnings would touch process-wide state from worker threads).
        # Move to `fid` once the app registers installation ids instead.
        message.token = token
        try:
            message_id = messaging.send(message, app=self._app)
        except messaging.UnregisteredError:
            return SendResult.unregistered("FCM: UNREGISTERED")
        except exceptions.FirebaseError as exc:
            return SendResult.failed(f"FCM {exc.code}: {type(exc).__name__}")
        except (auth_exceptions.GoogleAuthError, ValueError, OSError) as exc:
            # No access token (Google's token endpoint refused or unreachable), or a
            # malformed message; the text may quote a response body, so only the kind is
            # kept.
            return SendResult.failed(f"FCM: {type(exc).__name__}")
        return SendResult.sent(message_id)

    def close(self) -> None:
        firebase_admin.delete_app(self._app)
