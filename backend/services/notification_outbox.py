"""The embedded default's push: messages kept in a table the app polls.

Without Firebase credentials there is nobody to push through, so "sending" to a device
writes the message to `push_outbox` for that device's user; the app asks
`GET /me/outbox?after=<last id seen>`. It behaves like a push service: it answers for a
token, and a token that names no device any more is UNREGISTERED.

The outbox writes in its own transaction, as an outside service would; the delivery
loop holds no transaction open while it sends, so SQLite's single writer is free.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from backend.db.models import Device, PushOutboxMessage
from backend.services.notifier import Notifier, SendResult

MAX_POLL = 100


class OutboxNotifier(Notifier):
    def __init__(
        self, session_factory: sessionmaker[Session], clock: Callable[[], datetime]
    ) -> None:
        self._sessions = session_factory
        self._clock = clock

    def send(self, token: str, title: str, body: str, data: Mapping[str, str]) -> SendResult:
        try:
            with self._sessions() as s:
                device = s.scalar(select(Device).where(Device.token == token))
                if device is None:
                    return SendResult.unregistered("no device has this token")
                message = PushOutboxMessage(
                    user_id=device.user_id,
                    device_id=device.id,
                    title=title,
                    body=body,
                    data=dict(data),
                    created_at=self._clock(),
                )
                s.add(message)
                s.commit()
                return SendResult.sent(f"outbox:{message.id}")
        except SQLAlchemyError as exc:
            return SendResult.failed(f"outbox unavailable: {type(exc).__name__}")


def read_outbox(
    s: Session,
    user_id: int,
    *,
    after: int = 0,
    device_id: int | None = None,
    limit: int = MAX_POLL,
) -> list[PushOutboxMessage]:
    """The user's messages with an id above `after`, oldest first (newest last)."""
    query = select(PushOutboxMessage).where(
        PushOutboxMessage.user_id == user_id, PushOutboxMessage.id > after
    )
    if device_id is not None:
        query = query.where(PushOutboxMessage.device_id == device_id)
    return list(s.scalars(query.order_by(PushOutboxMessage.id).limit(limit)))
