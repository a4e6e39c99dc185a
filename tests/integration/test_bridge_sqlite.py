"""The embedded default keeps everything in SQLite: the bridge's whole 1.6 and 2.0.1
session journey works there too (the PostgreSQL-only fast statements have portable
twins)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from ocpp.v16 import call as c16
from ocpp.v201 import call as c201
from sqlalchemy import func, select

from backend.bootstrap import bootstrap
from backend.config import Settings
from backend.db.migrate import upgrade
from backend.db.models import ChargingSession, MeterSample
from tests import factories as f
from tests.integration.bridge_harness import eventually, run, running_bridge


@pytest.fixture
def lite(tmp_path: Path, clock):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    upgrade(url)
    container = bootstrap(Settings.from_env(database_url=url, secret_key="s" * 40), clock=clock)
    yield container
    container.close()


def test_a_session_of_each_version_on_sqlite(lite, clock) -> None:  # type: ignore[no-untyped-def]
    with lite.session_factory() as s:
        site = f.site(s, f.operator(s))
        cps = [f.charge_point(s, site) for _ in range(2)]
        for cp in cps:
            f.charger_password(s, cp)
        identities = [cp.ocpp_identity for cp in cps]
        s.commit()

    async def scenario() -> None:
        async with running_bridge(lite, clock) as h:
            old = await h.charger(identities[0], "1.6")
            new = await h.charger(identities[1], "2.0.1")
            start = await old.call(
                c16.StartTransaction(connector_id=1, id_tag="T", meter_start=100,
                                     timestamp=h.ts()),
                suppress=False,
            )  # fmt: skip
            await new.call(
                c201.TransactionEvent(
                    event_type="Started", timestamp=h.ts(), trigger_reason="Authorized",
                    seq_no=0, transaction_info={"transaction_id": "t1"}, evse={"id": 1},
                    meter_value=[{"timestamp": h.ts(), "sampled_value": [{"value": 100}]}],
                ),
                suppress=False,
            )  # fmt: skip
            clock.advance(minutes=30)
            meter = c16.MeterValues(
                connector_id=1, transaction_id=start.transaction_id,
                meter_value=[{"timestamp": h.ts(), "sampled_value": [{"value": "600"}]}],
            )  # fmt: skip
            await old.call(meter, suppress=False)
            await old.call(meter, suppress=False)  # replayed: stored once
            clock.advance(minutes=30)
            await old.call(
                c16.StopTransaction(meter_stop=1_100, timestamp=h.ts(),
                                    transaction_id=start.transaction_id, reason="EVDisconnected"),
                suppress=False,
            )  # fmt: skip
            await new.call(
                c201.TransactionEvent(
                    event_type="Ended", timestamp=h.ts(), trigger_reason="EVDeparted",
                    seq_no=1, transaction_info={"transaction_id": "t1",
                                                "stopped_reason": "EVDisconnected"},
                    meter_value=[{"timestamp": h.ts(), "sampled_value": [{"value": 1_100}]}],
                ),
                suppress=False,
            )  # fmt: skip
            await eventually(lambda: len(h.port.received) == 2)

    run(scenario())
    with lite.session_factory() as s:
        sessions = s.scalars(select(ChargingSession).order_by(ChargingSession.id)).all()
        assert [x.energy_wh for x in sessions] == [1_000, 1_000]
        assert all(x.status == "completed" for x in sessions)
        assert sessions[0].started_at == clock.now - timedelta(hours=1)
        assert s.scalar(select(func.count()).select_from(MeterSample)) == 3
