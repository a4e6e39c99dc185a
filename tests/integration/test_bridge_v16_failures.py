"""OCPP 1.6J field failures over real websockets into PostgreSQL: retried starts and
duplicate stops, unknown transactions, a 0 meter start, a register reset, a clock from
1970, a reboot that replays its queue, a lost session superseded."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from ocpp.v16 import call as c16
from sqlalchemy import func, select

from backend.db.models import (
    BridgeIncident,
    ChargingSession,
    MeterSample,
)
from tests.integration.bridge_harness import eventually, run, running_bridge
from tests.integration.bridge_world import (
    charging_world,
    in_db,
    meter16,
    one_session,
    sample_count,
)


@pytest.fixture
def world(session) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return charging_world(session)


def test_retried_start_duplicate_stop_and_a_stop_for_an_unknown_transaction(
    container, clock, world
) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            cp = await h.charger(world["identity"])
            begin = c16.StartTransaction(
                connector_id=1, id_tag="04A1B2C3", meter_start=1_000, timestamp=h.ts()
            )
            first = await cp.call(begin, suppress=False)
            again = await cp.call(begin, suppress=False)
            assert first.transaction_id == again.transaction_id
            clock.advance(minutes=30)
            end = c16.StopTransaction(
                meter_stop=5_000, timestamp=h.ts(),
                transaction_id=first.transaction_id, reason="EVDisconnected",
            )  # fmt: skip
            await cp.call(end, suppress=False)
            await cp.call(end, suppress=False)
            unknown = await cp.call(
                c16.StopTransaction(meter_stop=9, timestamp=h.ts(), transaction_id=999_999),
                suppress=False,
            )
            assert unknown.id_tag_info is None  # acknowledged all the same
            await eventually(lambda: len(h.port.received) == 1)

        assert one_session(container).energy_wh == 4_000
        kinds = in_db(container, lambda s: s.scalars(select(BridgeIncident.kind)).all())
        assert kinds == ["unknown_transaction_stop"]

    run(scenario())


def test_field_failures_zero_start_register_reset_clock_from_1970(container, clock, world) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            cp = await h.charger(world["identity"])
            start = await cp.call(
                c16.StartTransaction(connector_id=1, id_tag="04A1B2C3", meter_start=0,
                                     timestamp=h.ts()),
                suppress=False,
            )  # fmt: skip
            tx = start.transaction_id
            clock.advance(minutes=5)
            await cp.call(meter16(h, tx, 2_000_000, 0), suppress=False)  # 0 was a placeholder
            clock.advance(minutes=5)
            await cp.call(meter16(h, tx, 2_001_500, 0), suppress=False)
            clock.advance(minutes=5)
            await cp.call(meter16(h, tx, 300, 0), suppress=False)  # the register reset
            clock.advance(minutes=5)
            bad_clock = c16.MeterValues(
                connector_id=1, transaction_id=tx,
                meter_value=[{"timestamp": "1970-01-01T00:00:42Z",
                              "sampled_value": [{"value": "800"}]}],
            )  # fmt: skip
            await cp.call(bad_clock, suppress=False)
            await cp.call(bad_clock, suppress=False)  # a replay: stored once
            clock.advance(minutes=5)
            await cp.call(
                c16.StopTransaction(meter_stop=1_000, timestamp=h.ts(), transaction_id=tx,
                                    reason="EVDisconnected"),
                suppress=False,
            )  # fmt: skip

        s = one_session(container)
        assert (s.meter_start_wh, s.meter_start_source) == (2_000_000, "first_sample")
        assert s.energy_wh == 1_500 + 300 + 500 + 200  # never negative across the reset
        assert sample_count(container) == 4
        weird = in_db(
            container,
            lambda s: s.scalars(select(MeterSample).where(MeterSample.value == Decimal(800))).one(),
        )
        assert weird.timestamp == clock.now - timedelta(minutes=5)  # receive time
        assert weird.reported_at.year == 1970  # the charger's own, kept for replays
        kinds = in_db(container, lambda s: s.scalars(select(BridgeIncident.kind)).all())
        assert kinds == ["clock_corrected"]  # once per session, not per message

    run(scenario())


def test_a_reboot_mid_session_replays_queued_messages_without_duplicates(
    container, clock, world
) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            cp = await h.charger(world["identity"])
            begin = c16.StartTransaction(
                connector_id=1, id_tag="04A1B2C3", meter_start=10_000, timestamp=h.ts()
            )
            tx = (await cp.call(begin, suppress=False)).transaction_id
            clock.advance(minutes=20)
            queued = [meter16(h, tx, 10_000 + 1_000 * i, 5 * i - 20) for i in range(1, 4)]
            await cp.call(queued[0], suppress=False)
            await h.sockets[-1].close()  # the charger reboots
            cp = await h.charger(world["identity"])
            await cp.call(
                c16.BootNotification(charge_point_vendor="Acme", charge_point_model="AC22"),
                suppress=False,
            )
            again = await cp.call(begin, suppress=False)  # its answer had been lost
            assert again.transaction_id == tx
            for message in queued:  # everything it had not seen acknowledged, and more
                await cp.call(message, suppress=False)
            stop = c16.StopTransaction(
                meter_stop=14_000, timestamp=h.ts(), transaction_id=tx,
                reason="EVDisconnected",
            )  # fmt: skip
            await cp.call(stop, suppress=False)
            await cp.call(stop, suppress=False)

        assert in_db(container, lambda s: s.scalar(select(func.count(ChargingSession.id)))) == 1
        assert sample_count(container) == 3
        assert one_session(container).energy_wh == 4_000

    run(scenario())


def test_a_new_start_on_a_busy_connector_interrupts_the_lost_session(
    container, clock, world
) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with running_bridge(container, clock) as h:
            cp = await h.charger(world["identity"])
            lost = await cp.call(
                c16.StartTransaction(connector_id=1, id_tag="04A1B2C3", meter_start=100,
                                     timestamp=h.ts()),
                suppress=False,
            )  # fmt: skip
            clock.advance(minutes=30)
            await cp.call(meter16(h, lost.transaction_id, 2_100, -20), suppress=False)
            await cp.call(
                c16.StartTransaction(connector_id=1, id_tag="04A1B2C3", meter_start=5_000,
                                     timestamp=h.ts()),
                suppress=False,
            )  # fmt: skip
            await eventually(lambda: len(h.port.received) == 1)

        first = in_db(container, lambda s: s.get(ChargingSession, lost.transaction_id))
        assert first.status == "interrupted" and first.energy_wh == 2_000
        assert h.port.received[0].session_id == first.id
        kinds = in_db(container, lambda s: s.scalars(select(BridgeIncident.kind)).all())
        assert kinds == ["session_interrupted"]

    run(scenario())
