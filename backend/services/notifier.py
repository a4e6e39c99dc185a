"""The notifier port: how the backend pushes one message to one device.

Two adapters: Firebase Cloud Messaging (`backend.adapters.fcm`, production) and the
outbox (`backend.services.notification_outbox`, the embedded default, which keeps the
messages for the app to poll). Tests use fakes that subclass `Notifier`.

A notifier reports what happened instead of raising: the delivery loop decides what to
do with a failure (retry later, or drop a dead token).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class SendOutcome(StrEnum):
    SENT = "sent"
    UNREGISTERED = "unregistered"  # the token is dead for good: forget the device
    FAILED = "failed"  # anything else: try again later


@dataclass(frozen=True)
class SendResult:
    outcome: SendOutcome
    message_id: str | None = None
    error: str | None = None  # short, for logs and the delivery row; never a secret

    @classmethod
    def sent(cls, message_id: str | None = None) -> SendResult:
        return cls(SendOutcome.SENT, message_id=message_id)

    @classmethod
    def unregistered(cls, error: str = "token no longer registered") -> SendResult:
        return cls(SendOutcome.UNREGISTERED, error=error)

    @classmethod
    def failed(cls, error: str) -> SendResult:
        return cls(SendOutcome.FAILED, error=error)


class Notifier(abc.ABC):
    """Send a push message to one device token."""

    @abc.abstractmethod
    def send(self, token: str, title: str, body: str, data: Mapping[str, str]) -> SendResult:
        """Deliver one message; `data` is the app's payload (string keys and values)."""

    def close(self) -> None:  # noqa: B027  (optional hook: most notifiers hold nothing)
        """Release whatever the notifier holds (HTTP pools, SDK apps)."""
