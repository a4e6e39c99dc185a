"""Many chargers at once over real websockets: every meter value is stored exactly once,
each charger is answered only after its values are committed, and the group-commit
writer really groups (far fewer transactions than messages). bench/ has the figures."""

from __future__ import annotations

import asyncio
import time

from ocpp.v16 import call as c16
from sqlalchemy import func, select

from backend.db.models import ChargePoint, MeterSample
from tests import factories as f
from tests.integration.bridge_harness import run, running_bridge

CHARGERS = 60
MESSAGES = 10


def test_many_chargers_meter_values_are_grouped_into_few_commits(container, clock, session) -> None:  # type: ignore[no-untyped-def]
    site = f.site(session, f.operator(session))
    identities = []
    for _ in range(CHARGERS):
        cp = f.charge_point(session, site, connectors=1)
        f.charger_password(session, cp)
        identities.append(cp.ocpp_identity)
    session.commit()

    async def charger(h, identity: str) -> None:  # type: ignore[no-untyped-def]
        cp = await h.charger(identity)
        start = await cp.call(
            c16.StartTransaction(connector_id=1, id_tag="X", meter_start=0, timestamp=h.ts()),
            suppress=False,
        )
        for i in range(1, MESSAGES + 1):
            values = [{"value": str(100 * i)}, {"value": "7000", "measurand": "Power.Active.Import",
                                                 "unit": "W"}]  # fmt: skip
            await cp.call(
                c16.MeterValues(
                    connector_id=1, transaction_id=start.transaction_id,
                    meter_value=[{"timestamp": h.ts(seconds=i - 60), "sampled_value": values}],
                ),
                suppress=False,
            )  # fmt: skip

    async def scenario() -> float:
        async with running_bridge(container, clock) as h:
            began = time.perf_counter()
            await asyncio.gather(*(charger(h, i) for i in identities))
            elapsed = time.perf_counter() - began
            writer = h.bridge.writer
            assert writer.items == CHARGERS * MESSAGES
            assert writer.batches < writer.items / 3, (writer.batches, writer.items)
            return elapsed

    elapsed = run(scenario())
    with container.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(MeterSample)) == CHARGERS * MESSAGES * 2
        seen = s.scalars(select(ChargePoint.last_seen_at)).all()
    assert all(at == clock.now for at in seen)  # flushed in batches, none forgotten
    assert elapsed < 30
