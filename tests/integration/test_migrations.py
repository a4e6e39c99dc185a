"""Alembic migrations: up, down and up again on fresh PostgreSQL and SQLite databases,
ending at exactly the schema the models describe (no autogenerate drift)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import backend.db.models  # noqa: F401  (registers every table on the metadata)
from backend.db import Base, make_engine
from backend.db.migrate import alembic_config, downgrade, upgrade

PG_ADMIN_URL = os.environ.get("WATTPASS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
MODEL_TABLES = set(Base.metadata.tables)


@pytest.fixture
def fresh_postgres(worker_id: str) -> Iterator[str]:
    """An empty database of its own, dropped afterwards; PostgreSQL down fails the test."""
    name = f"wattpass_migrations_{worker_id}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required at {PG_ADMIN_URL}: {exc}", pytrace=False)
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'wattpass.db'}"


@pytest.fixture(params=["postgresql", "sqlite"])
def fresh_url(request: pytest.FixtureRequest) -> str:
    fixture = "fresh_postgres" if request.param == "postgresql" else "fresh_sqlite"
    return str(request.getfixturevalue(fixture))


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _drift(url: str) -> list[object]:
    """What `alembic revision --autogenerate` would put in a new migration."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(ctx, Base.metadata))
    finally:
        engine.dispose()


def _current(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def test_one_linear_history_with_a_single_head() -> None:
    # Two migrations written in parallel on the same parent would give two heads and
    # `upgrade head` would refuse to run.
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, script.get_heads()
    assert len(script.get_bases()) == 1, script.get_bases()


def test_upgrade_downgrade_upgrade_matches_the_models(fresh_url: str) -> None:
    head = ScriptDirectory.from_config(alembic_config(fresh_url)).get_current_head()

    upgrade(fresh_url)
    assert _tables(fresh_url) == MODEL_TABLES | {"alembic_version"}
    assert _current(fresh_url) == head
    assert _drift(fresh_url) == []

    downgrade(fresh_url, "base")
    assert _tables(fresh_url) - {"alembic_version"} == set()
    assert _current(fresh_url) is None
    # With nothing left, the comparison must see every model table as missing: proof
    # that an empty drift above means something.
    missing = {diff[1].name for diff in _drift(fresh_url) if diff[0] == "add_table"}
    assert missing == MODEL_TABLES

    upgrade(fresh_url)
    assert _tables(fresh_url) == MODEL_TABLES | {"alembic_version"}
    assert _current(fresh_url) == head
    assert _drift(fresh_url) == []


def test_upgrade_head_twice_is_harmless(fresh_sqlite: str) -> None:
    upgrade(fresh_sqlite)
    upgrade(fresh_sqlite)
    assert _tables(fresh_sqlite) == MODEL_TABLES | {"alembic_version"}
