"""Devices a user receives push messages on: register, list, remove.

A device token names one app install. It belongs to one user at a time: when a second
user registers a token, the phone changed hands, so the device is taken from the first
user — with every message still queued for them, which is theirs and nobody else's —
and registered afresh for the second.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import Device, NotificationDelivery
from backend.errors import InvalidInput, NotFound
from backend.services.notification_texts import LANGUAGES
from backend.services.visibility import valid_id

PLATFORMS = ("android", "ios", "web")
MAX_TOKEN_LENGTH = 512
# A user with more app installs than this has stale ones: the least recently seen go.
MAX_DEVICES_PER_USER = 10


@dataclass(frozen=True)
class Registration:
    device: Device
    created: bool  # False: the token was already the caller's; only refreshed


def check_token(token: str) -> str:
    """FCM and APNs tokens are printable ASCII without spaces; anything else is a mistake."""
    if not 0 < len(token) <= MAX_TOKEN_LENGTH or not all(0x21 <= ord(c) <= 0x7E for c in token):
        message = f"A device token is 1 to {MAX_TOKEN_LENGTH} printable characters, no spaces."
        raise InvalidInput(message, errors={"token": [message]})
    return token


def register_device(
    s: Session,
    user_id: int,
    token: str,
    platform: str,
    language: str | None,
    now: datetime,
) -> Registration:
    """Register (or refresh) the caller's device; take the token over from another user."""
    check_token(token)
    if platform not in PLATFORMS:
        raise InvalidInput("Unknown platform.", errors={"platform": [f"One of {PLATFORMS}."]})
    if language is not None and language not in LANGUAGES:
        raise InvalidInput("Unknown language.", errors={"language": [f"One of {LANGUAGES}."]})
    for attempt in range(2):
        try:
            return _register(s, user_id, token, platform, language, now)
        except IntegrityError:
            # The same token registered concurrently: the other insert won; look again.
            s.rollback()
            if attempt:
                raise
    raise AssertionError("unreachable")


def _register(
    s: Session, user_id: int, token: str, platform: str, language: str | None, now: datetime
) -> Registration:
    device = s.scalar(select(Device).where(Device.token == token).with_for_update())
    if device is not None and device.user_id == user_id:
        device.platform = platform
        device.language = language
        device.last_seen_at = now
        s.commit()
        return Registration(device, created=False)
    if device is not None:
        forget_device(s, device.id)
        s.expunge(device)
    device = Device(
        user_id=user_id,
        token=token,
        platform=platform,
        language=language,
        created_at=now,
        last_seen_at=now,
    )
    s.add(device)
    s.flush()
    _evict_stale(s, user_id)
    s.commit()
    return Registration(device, created=True)


def _evict_stale(s: Session, user_id: int) -> None:
    count = s.scalar(select(func.count(Device.id)).where(Device.user_id == user_id)) or 0
    if count <= MAX_DEVICES_PER_USER:
        return
    stale = s.scalars(
        select(Device.id)
        .where(Device.user_id == user_id)
        .order_by(Device.last_seen_at, Device.id)
        .limit(count - MAX_DEVICES_PER_USER)
    ).all()
    for device_id in stale:
        forget_device(s, device_id)


def forget_device(s: Session, device_id: int) -> None:
    """Delete a device and what is still queued for it (the caller commits)."""
    s.execute(delete(NotificationDelivery).where(NotificationDelivery.device_id == device_id))
    s.execute(delete(Device).where(Device.id == device_id))


def list_devices(s: Session, user_id: int) -> list[Device]:
    return list(s.scalars(select(Device).where(Device.user_id == user_id).order_by(Device.id)))


def remove_device(s: Session, user_id: int, device_id: int) -> None:
    """Stop pushing to a device; another user's device is "not found"."""
    device = s.get(Device, device_id) if valid_id(device_id) else None
    if device is None or device.user_id != user_id:
        raise NotFound("No such device.")
    forget_device(s, device.id)
    s.commit()
