"""Shared fixtures: the real PostgreSQL (never skipped), a controllable clock, API clients.

Each pytest-xdist worker gets its own database, migrated with Alembic to head, and
every test starts from empty tables.
"""

from __future__ import annotations

import os

# Cheap argon2 parameters for the suite only (set before backend modules are imported);
# production keeps argon2-cffi's defaults. Still argon2id, still verified for real.
os.environ.setdefault("ARGON2_TIME_COST", "1")
os.environ.setdefault("ARGON2_MEMORY_KIB", "1024")
os.environ.setdefault("ARGON2_PARALLELISM", "1")

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import text

from backend.app import create_app
from backend.bootstrap import bootstrap
from backend.config import Settings
from backend.db.migrate import upgrade

pytest_plugins = ["tests.payments_fixtures"]  # localstripe per worker (payments tests)

PG_ADMIN_URL = os.environ.get("WATTPASS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("WATTPASS_TEST_REDIS", "redis://127.0.0.1:6379/15")


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def _pg_url_for(dbname: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{dbname}"


@pytest.fixture(scope="session")
def pg_url(worker_id: str, testrun_uid: str) -> Iterator[str]:
    """A fresh database for this worker of this run (two runs on one server never share
    one), dropped at the end. PostgreSQL being down fails the run: these tests stand for
    production and must never be skipped."""
    dbname = f"wattpass_t_{testrun_uid[:10]}_{worker_id}"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{dbname}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required at {PG_ADMIN_URL}: {exc}", pytrace=False)
    url = _pg_url_for(dbname)
    upgrade(url)
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))


@pytest.fixture
def settings(pg_url: str) -> Settings:
    return Settings.from_env(
        database_url=pg_url, secret_key="test-secret-" + "x" * 32, redis_url=None
    )


@pytest.fixture
def container(settings: Settings, clock: FakeClock) -> Iterator[object]:
    c = bootstrap(settings, clock=clock)
    yield c
    with c.engine.begin() as conn:
        tables = conn.execute(
            text(
                "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables "
                "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ).scalar()
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    c.close()


@pytest.fixture
def app(container):  # type: ignore[no-untyped-def]
    application = create_app(container=container)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def session(container):  # type: ignore[no-untyped-def]
    with container.session_factory() as s:
        yield s
