"""Counting failed attempts in a sliding window (company-code guessing, domain.md §5).

Production keeps the counters in Redis (shared by every API process); the embedded
default keeps them in the database. Both answer the same two questions.
"""

from __future__ import annotations

import abc
import math
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from backend.config import Settings
from backend.db.models import ThrottleEvent


def seconds_until_allowed(
    failures: Iterable[float], limit: int, window_seconds: float, now: float
) -> int:
    """The window rule both adapters share (POSIX seconds in, whole seconds out).

    A failure at ``t`` counts while ``now - window < t``. Once ``limit`` failures count,
    the caller waits until the ``limit``-th most recent one leaves the window, which is
    the moment only ``limit - 1`` would remain. Rounded up, and at least 1, so a client
    that honours Retry-After never comes back a moment too early.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    recent = sorted((t for t in failures if t > now - window_seconds), reverse=True)
    if len(recent) < limit:
        return 0
    return max(1, math.ceil(recent[limit - 1] + window_seconds - now))


class Throttle(abc.ABC):
    """A port: failures per key within a window."""

    @abc.abstractmethod
    def retry_after(self, key: str, limit: int, window: timedelta, now: datetime) -> int:
        """Seconds until one more attempt is allowed; 0 when allowed now."""

    @abc.abstractmethod
    def record_failure(self, key: str, window: timedelta, now: datetime) -> None: ...

    def close(self) -> None:  # noqa: B027  (optional hook)
        pass


class SqlThrottle(Throttle):
    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self._sessions = session_factory

    def retry_after(self, key: str, limit: int, window: timedelta, now: datetime) -> int:
        with self._sessions() as s:
            recent = s.scalars(
                select(ThrottleEvent.at)
                .where(ThrottleEvent.key == key, ThrottleEvent.at > now - window)
                .order_by(ThrottleEvent.at.desc())
                .limit(limit)
            ).all()
        return seconds_until_allowed(
            (t.timestamp() for t in recent), limit, window.total_seconds(), now.timestamp()
        )

    def record_failure(self, key: str, window: timedelta, now: datetime) -> None:
        with self._sessions() as s, s.begin():
            s.add(ThrottleEvent(key=key, at=now))
            s.execute(
                delete(ThrottleEvent).where(
                    ThrottleEvent.key == key, ThrottleEvent.at <= now - window
                )
            )


class RedisThrottle(Throttle):
    """A sorted set per key, scored by time; old members trimmed on every write."""

    def __init__(self, client: object, prefix: str = "wattpass:throttle:") -> None:
        self._r = client
        self._prefix = prefix

    def retry_after(self, key: str, limit: int, window: timedelta, now: datetime) -> int:
        k = self._prefix + key
        since = now.timestamp() - window.total_seconds()
        members = self._r.zrangebyscore(k, f"({since}", "+inf", withscores=True)  # type: ignore[attr-defined]
        return seconds_until_allowed(
            (score for _, score in members), limit, window.total_seconds(), now.timestamp()
        )

    def record_failure(self, key: str, window: timedelta, now: datetime) -> None:
        k = self._prefix + key
        ts = now.timestamp()
        pipe = self._r.pipeline()  # type: ignore[attr-defined]
        pipe.zadd(k, {f"{ts}:{secrets.token_hex(4)}": ts})
        pipe.zremrangebyscore(k, "-inf", ts - window.total_seconds())
        pipe.expire(k, int(window.total_seconds()) + 1)
        pipe.execute()

    def close(self) -> None:
        self._r.close()  # type: ignore[attr-defined]


def make_throttle(settings: Settings, session_factory: sessionmaker[Session]) -> Throttle:
    if settings.redis_url:
        import redis

        return RedisThrottle(redis.Redis.from_url(settings.redis_url))
    return SqlThrottle(session_factory)
