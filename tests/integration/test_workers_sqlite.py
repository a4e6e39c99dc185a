"""The embedded default's workers on SQLite: every periodic job of `wattpass run` runs on
a migrated database with the demo data, after a month has ended, without an error.

The rest of the suite runs the jobs on PostgreSQL; SQLite lacks some of its functions
(concat, for one), so a job written against PostgreSQL alone would fail every round of
the embedded default without any other test noticing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend import demo
from backend.adapters.fake_payments import FakeGateway
from backend.adapters.fake_payouts import FakePayouts
from backend.bootstrap import bootstrap
from backend.cli import migrate
from backend.config import Settings
from backend.db.models import Settlement
from backend.jobs import background_jobs

SECRET = "workers-sqlite-secret-" + "x" * 32
AFTER_NOVEMBER = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # November over everywhere


@pytest.fixture
def container(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'embedded.db'}", secret_key=SECRET)
    migrate(settings)
    c = bootstrap(
        settings, clock=lambda: AFTER_NOVEMBER, payments=FakeGateway(), payouts=FakePayouts()
    )
    demo.load_demo(c.session_factory, datetime(2026, 11, 2, 9, 0, tzinfo=UTC), SECRET)
    yield c
    c.close()


def test_every_periodic_job_runs_on_the_embedded_sqlite_default(container) -> None:  # type: ignore[no-untyped-def]
    jobs = background_jobs(container, billing_retry_s=0)
    names = [name for name, _ in jobs]
    assert {"session follow-ups", "push delivery", "period close", "settlements"} <= set(names)
    for _name, job in jobs:
        job()  # an error here is what the embedded run would log every round
    with container.session_factory() as s:
        made = s.scalar(select(func.count(Settlement.id)).where(Settlement.period == "2026-11"))
    assert made, "the demo operators' November was not settled on SQLite"
    for _name, job in jobs:  # and again: every job is idempotent
        job()
    with container.session_factory() as s:
        again = s.scalar(select(func.count(Settlement.id)))
    assert again == made
