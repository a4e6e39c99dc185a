"""Both throttle adapters against the real thing: RedisThrottle on Redis (db 15) and
SqlThrottle on PostgreSQL, plus code redemption through the API with Redis behind it.

Every test works under its own key prefix and removes its keys afterwards, rather than
flushing db 15: other tests running in parallel (pytest-xdist) may be using it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import func, select

from backend.bootstrap import bootstrap
from backend.config import Settings
from backend.db.models import ThrottleEvent
from backend.db.models.enums import Role
from backend.services.throttle import RedisThrottle, SqlThrottle, Throttle
from tests import factories as f
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.redis

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is required at {REDIS_URL}: {exc}", pytrace=False)
    yield client
    client.close()


@pytest.fixture
def prefix(redis_client) -> Iterator[str]:
    p = f"wattpass-test:{uuid.uuid4().hex}:"
    yield p
    keys = list(redis_client.scan_iter(match=p + "*"))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture
def redis_throttle(redis_client, prefix) -> RedisThrottle:
    return RedisThrottle(redis_client, prefix=prefix)


@pytest.fixture
def sql_throttle(container) -> SqlThrottle:
    return SqlThrottle(container.session_factory)


@pytest.fixture(params=["redis", "sql"])
def throttle(request) -> Throttle:
    return request.getfixturevalue(f"{request.param}_throttle")


def fail(throttle: Throttle, key: str, *minutes: float) -> None:
    for m in minutes:
        throttle.record_failure(key, WINDOW, T0 + timedelta(minutes=m))


def test_allows_up_to_the_limit(throttle):
    fail(throttle, "k", 0, 1, 2, 3)
    assert throttle.retry_after("k", 5, WINDOW, T0 + timedelta(minutes=4)) == 0


def test_locks_at_the_limit_until_the_oldest_counted_failure_leaves(throttle):
    fail(throttle, "k", 0, 1, 2, 3, 4)
    now = T0 + timedelta(minutes=5)
    assert throttle.retry_after("k", 5, WINDOW, now) == 10 * 60
    assert throttle.retry_after("k", 5, WINDOW, T0 + timedelta(minutes=14, seconds=59)) == 1
    assert throttle.retry_after("k", 5, WINDOW, T0 + timedelta(minutes=15)) == 0


def test_more_failures_than_the_limit_keep_the_lock_longer(throttle):
    fail(throttle, "k", 0, 1, 2, 3, 4, 5, 6)
    # The 5th most recent failure is the one at minute 2: free at minute 17.
    assert throttle.retry_after("k", 5, WINDOW, T0 + timedelta(minutes=7)) == 10 * 60


def test_keys_are_counted_apart(throttle):
    fail(throttle, "code:account:1", 0, 1, 2, 3, 4)
    assert throttle.retry_after("code:account:1", 5, WINDOW, T0 + timedelta(minutes=5)) > 0
    assert throttle.retry_after("code:account:2", 5, WINDOW, T0 + timedelta(minutes=5)) == 0


def test_sub_second_failures_are_all_counted(throttle):
    for ms in range(5):
        throttle.record_failure("k", WINDOW, T0 + timedelta(milliseconds=ms))
    assert throttle.retry_after("k", 5, WINDOW, T0) == 15 * 60


def test_redis_trims_old_failures_and_expires_the_key(redis_throttle, redis_client, prefix):
    fail(redis_throttle, "k", 0, 1)
    fail(redis_throttle, "k", 20)  # the two early ones are out of the window by now
    assert redis_client.zcard(prefix + "k") == 1
    ttl = redis_client.ttl(prefix + "k")
    assert 0 < ttl <= WINDOW.total_seconds() + 1


def test_sql_trims_old_failures(sql_throttle, container):
    fail(sql_throttle, "k", 0, 1)
    fail(sql_throttle, "other", 0)
    fail(sql_throttle, "k", 20)
    with container.session_factory() as s:
        counts = dict(
            s.execute(select(ThrottleEvent.key, func.count()).group_by(ThrottleEvent.key)).all()
        )
    assert counts == {"k": 1, "other": 1}  # only the written key is trimmed


def test_container_uses_redis_when_configured(settings, clock):
    c = bootstrap(
        Settings.from_env(
            database_url=settings.database_url, secret_key=settings.secret_key, redis_url=REDIS_URL
        ),
        clock=clock,
    )
    try:
        assert isinstance(c.throttle, RedisThrottle)
    finally:
        c.close()


# --- code redemption through the API, with Redis counting ------------------------------


def test_api_locks_out_guessing_with_redis(client, session, container, redis_client, prefix, clock):
    container.throttle = RedisThrottle(redis_client, prefix=prefix)
    setup = f.operator(session)
    site = f.site(session, setup, visibility="private")
    staff_user = f.user(session, Role.OPERATOR_STAFF, operator_id=setup.operator.id)
    drivers = [f.user(session, Role.DRIVER) for _ in range(2)]
    session.commit()
    staff = f.login(client, staff_user)
    code = client.post(
        f"/operators/{setup.operator.id}/codes",
        json={"kind": "permanent", "site_ids": [site.id], "price_group_id": setup.company.id},
        headers=staff,
    ).json["code"]
    a, b = (f.login(client, d) for d in drivers)
    address = {"REMOTE_ADDR": "203.0.113.50"}

    def redeem(headers, typed):
        return client.post(
            "/me/memberships", json={"code": typed}, headers=headers, environ_base=address
        )

    for headers in (a, a, a, b, b):
        assert redeem(headers, "ABCD-EFGH-JKMN").status_code == 404
    locked = redeem(b, code)
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "900"
    assert any(
        k.decode().startswith(prefix + "code:address:") for k in redis_client.keys(prefix + "*")
    )
    clock.advance(minutes=15)
    assert redeem(f.login(client, drivers[1]), code).status_code == 201
