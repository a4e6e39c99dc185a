"""Firmware campaigns end to end: the real bridge on loopback, simulated 1.6 and 2.0.1
chargers over real websockets, the real PostgreSQL. UpdateFirmware goes out when the
campaign is due (to a charger offline then, once it connects), the charger's
FirmwareStatusNotifications move the job on, the new version is confirmed at its next
boot; a failed download is retried within the campaign's limit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from backend.db.base import utcnow
from backend.db.models import ChargePoint, FirmwareJob
from backend.services import firmware
from backend.services.charger_health import HealthPolicy
from backend.services.firmware_jobs import FirmwareRules
from ocpp_bridge.operations import Operations, OperationsSettings
from ocpp_bridge.simulator import ChargerSimulator, SimClock
from tests import factories as f
from tests.integration.bridge_harness import eventually, run, running_bridge

LOCATION = "https://fw.example.com/wattpass/simcharger-2.0.0.bin"


class FlakyCharger(ChargerSimulator):
    """Fails its firmware update `failures` times (as `firmware_failure` says), then
    succeeds."""

    failures = 0

    async def _firmware(self, status: str, request_id: int | None) -> None:
        await super()._firmware(status, request_id)
        if status.endswith("Failed"):
            self.failures -= 1
            if self.failures <= 0:
                self.firmware_failure = None


@pytest.fixture
def chargers(session):  # type: ignore[no-untyped-def]
    setup = f.operator(session)
    site = f.site(session, setup)
    cps = []
    for _ in range(2):
        cp = f.charge_point(session, site, connectors=1)
        cp.vendor, cp.model, cp.firmware_version = "Wattpass", "SimCharger", "1.0.0"
        f.charger_password(session, cp)
        cps.append(cp)
    session.commit()
    return setup.operator.id, [(cp.ocpp_identity, cp.id) for cp in cps]


def campaign(container, operator_id: int, max_retries: int) -> int:  # type: ignore[no-untyped-def]
    with container.session_factory() as s:
        data = firmware.CampaignIn(
            model="SimCharger",
            vendor="Wattpass",
            firmware_version="2.0.0",
            location=LOCATION,
            retrieve_at=utcnow() - timedelta(seconds=1),
            max_retries=max_retries,
        )
        return firmware.create_campaign(s, operator_id, data, None, utcnow()).id


def jobs(container, campaign_id: int) -> dict[int, FirmwareJob]:  # type: ignore[no-untyped-def]
    with container.session_factory() as s:
        rows = s.scalars(select(FirmwareJob).where(FirmwareJob.campaign_id == campaign_id))
        return {j.charge_point_id: j for j in rows}


def finished(container, campaign_id: int) -> bool:  # type: ignore[no-untyped-def]
    return all(j.status in ("installed", "failed") for j in jobs(container, campaign_id).values())


async def start(container, h) -> Operations:  # type: ignore[no-untyped-def]
    settings = OperationsSettings(
        interval_s=0.3,
        policy=HealthPolicy(),
        firmware=FirmwareRules(
            retry_delay=timedelta(seconds=0.5), progress_timeout=timedelta(seconds=5)
        ),
    )
    ops = Operations(h.bridge, settings, alerts=_NoAlerts())
    await ops.start()
    return ops


class _NoAlerts:
    def send(self, *args: Any) -> None:
        return None


def sim(h, identity: str, version: str) -> FlakyCharger:  # type: ignore[no-untyped-def]
    charger = FlakyCharger(
        identity, f.CHARGER_PASSWORD, h.url, version=version, clock=SimClock(20), reboot_delay_s=4
    )
    charger.firmware_step_s = 2
    return charger


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_update_installed_on_a_connected_and_on_a_late_charger(container, chargers, version):
    operator_id, [(online_id, online_cp), (late_id, late_cp)] = chargers

    async def scenario() -> None:
        async with running_bridge(container, utcnow, heartbeat_interval_s=30) as h:
            ops = await start(container, h)
            online, late = sim(h, online_id, version), sim(h, late_id, version)
            try:
                await online.connect(10)
                campaign_id = campaign(container, operator_id, max_retries=0)
                await eventually(
                    lambda: jobs(container, campaign_id)[online_cp].status == "installed",
                    timeout=15,
                )
                assert jobs(container, campaign_id)[late_cp].status == "pending"
                await late.connect(10)  # was offline when the campaign came due
                await eventually(lambda: finished(container, campaign_id), timeout=15)
                await eventually(
                    lambda: all(j.installed_version for j in jobs(container, campaign_id).values()),
                    timeout=10,
                )
            finally:
                await online.close()
                await late.close()
                await ops.close()
        for cp_id in (online_cp, late_cp):
            job = jobs(container, campaign_id)[cp_id]
            assert (job.status, job.attempts, job.installed_version) == ("installed", 1, "2.0.0")
            assert job.charger_status == "Installed"
        with container.session_factory() as s:
            assert s.get(ChargePoint, online_cp).firmware_version == "2.0.0"
        sent = [e for e in online.events if e.action == "UpdateFirmware"]
        assert len(sent) == 1
        if version == "2.0.1":  # the request id is the job id
            assert sent[0].payload["requestId"] == jobs(container, campaign_id)[online_cp].id
        statuses = [
            e.payload["status"] for e in online.events if e.action == "FirmwareStatusNotification"
        ]
        assert statuses == ["Downloading", "Downloaded", "Installing", "Installed"]

    run(scenario())


@pytest.mark.parametrize(
    ("version", "failure"), [("1.6", "DownloadFailed"), ("2.0.1", "InstallationFailed")]
)
def test_a_failed_update_is_retried_then_gives_up_at_the_limit(
    container, chargers, version, failure
):
    operator_id, [(retry_id, retry_cp), (broken_id, broken_cp)] = chargers

    async def scenario() -> None:
        async with running_bridge(container, utcnow, heartbeat_interval_s=30) as h:
            ops = await start(container, h)
            retried, broken = sim(h, retry_id, version), sim(h, broken_id, version)
            retried.firmware_failure, retried.failures = failure, 1
            broken.firmware_failure, broken.failures = failure, 100
            try:
                await retried.connect(10)
                await broken.connect(10)
                campaign_id = campaign(container, operator_id, max_retries=1)
                await eventually(lambda: finished(container, campaign_id), timeout=25)
                await eventually(
                    lambda: jobs(container, campaign_id)[retry_cp].installed_version == "2.0.0",
                    timeout=10,
                )
            finally:
                await retried.close()
                await broken.close()
                await ops.close()
        ok, bad = jobs(container, campaign_id)[retry_cp], jobs(container, campaign_id)[broken_cp]
        assert (ok.status, ok.attempts) == ("installed", 2)
        assert (bad.status, bad.attempts, bad.charger_status) == ("failed", 2, failure)
        assert bad.last_error == f"The charger reported {failure}"
        assert len([e for e in broken.events if e.action == "UpdateFirmware"]) == 2
        assert broken.firmware_version == "1.0.0"

    run(scenario())
