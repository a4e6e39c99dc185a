"""Test data and 1.6 messages shared by the tests/integration/test_bridge_v16*.py modules."""

from __future__ import annotations

from typing import Any

from ocpp.v16 import call as c16
from sqlalchemy import func, select

from backend.db.models import ChargingSession, MeterSample
from backend.db.models.enums import Role
from tests import factories as f


def charging_world(session) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """An operator's public site, a 22 kW charger with its password, a driver with a
    company card, and the company price in force."""
    setup = f.operator(session)
    site = f.site(session, setup)
    cp = f.charge_point(session, site, power_w=22_000)
    f.charger_password(session, cp)
    driver = f.user(session, Role.DRIVER)
    token = f.rfid_token(session, setup, "04A1B2C3", driver=driver)
    version = f.price_version(session, site, setup.company)
    session.commit()
    return {"cp": cp, "identity": cp.ocpp_identity, "token": token, "version": version,
            "driver": driver, "setup": setup, "site": site}  # fmt: skip


def in_db(container, fn):  # type: ignore[no-untyped-def]
    with container.session_factory() as s:
        return fn(s)


def one_session(container) -> ChargingSession:  # type: ignore[no-untyped-def]
    return in_db(container, lambda s: s.scalars(select(ChargingSession)).one())


def sample_count(container) -> int:  # type: ignore[no-untyped-def]
    return in_db(container, lambda s: s.scalar(select(func.count()).select_from(MeterSample)))


def meter16(h, tx: int | None, wh: int, minutes: float, power_w: int | None = None) -> Any:  # type: ignore[no-untyped-def]
    """A 1.6 MeterValues: the register (and the power) at clock + minutes."""
    values = [{"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]
    if power_w is not None:
        values.append({"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"})
    return c16.MeterValues(
        connector_id=1,
        transaction_id=tx,
        meter_value=[{"timestamp": h.ts(minutes=minutes), "sampled_value": values}],
    )
