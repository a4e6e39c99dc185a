"""What the charger does when the central system asks, version-neutral.

The v16 / v201 handlers decide the immediate answer with the `can_*` / `find_*` helpers
and run the follow-up coroutines from here only after the answer went out (OCPP's
`@after`), because a call made while the receive loop waits on a handler would hang.
"""

from __future__ import annotations

import contextlib
import re
from datetime import datetime
from typing import TYPE_CHECKING

from ocpp.exceptions import OCPPError

from ocpp_bridge.simulator.base import LINK_ERRORS
from ocpp_bridge.simulator.model import Connector

if TYPE_CHECKING:
    from ocpp_bridge.simulator.simulator import ChargerSimulator

_VERSION = re.compile(r"(\d+(?:\.\d+)+)")


def next_version(current: str, location: str) -> str:
    """The firmware version an update installs: the version named in the file's URL
    (…/wattbox-2.1.0.bin → 2.1.0), else the current one with its last number bumped."""
    found = _VERSION.findall(location.rsplit("/", 1)[-1])
    if found:
        return str(found[-1])
    parts = current.split(".")
    if parts and parts[-1].isdigit():
        return ".".join([*parts[:-1], str(int(parts[-1]) + 1)])
    return current + ".1"


class CommandsMixin:
    # -- decisions (no I/O) ----------------------------------------------------------
    def remote_start_target(self: ChargerSimulator, connector_id: int | None) -> Connector | None:
        """The connector a remote start would use: a plugged car, no session, no fault."""
        candidates = (
            [self.connectors.get(connector_id)] if connector_id else list(self.connectors.values())
        )
        for conn in candidates:
            if (
                conn is not None
                and conn.plugged
                and conn.transaction is None
                and conn.operative
                and not conn.faulted
                and not self.charger.faulted
            ):
                return conn
        return None

    def find_session(self: ChargerSimulator, transaction_id: int | str) -> Connector | None:
        for conn in self.connectors.values():
            tx = conn.transaction
            if tx is not None and transaction_id in (tx.remote_id, tx.local_id):
                return conn
        return None

    def change_availability(
        self: ChargerSimulator, connector_id: int, operative: bool
    ) -> tuple[str, list[Connector]]:
        """Apply (or schedule, behind a running session) a ChangeAvailability; returns
        the answer and the connectors whose status must be sent."""
        targets = list(self.connectors.values()) if connector_id == 0 else []
        if connector_id and connector_id in self.connectors:
            targets = [self.connectors[connector_id]]
        if not targets:
            return "Rejected", []
        answer, changed = "Accepted", []
        for conn in targets:
            if not operative and conn.transaction is not None:
                conn.pending_inoperative, answer = True, "Scheduled"
                continue
            conn.operative, conn.pending_inoperative = operative, False
            if not conn.faulted and conn.status in ("Available", "Preparing", "Unavailable"):
                conn.status = conn.resting_status()
                changed.append(conn)
        return answer, changed

    # -- follow-ups (run after the answer went out) ----------------------------------
    async def send_statuses(self: ChargerSimulator, connectors: list[Connector]) -> None:
        for conn in connectors:
            await self.protocol.status(conn, force=True)

    async def remote_stop(self: ChargerSimulator, connector_id: int) -> None:
        conn = self.connector(connector_id)
        if conn.transaction is not None:
            await self._end_transaction(conn, "Remote")
            await self.set_status(conn, "Finishing" if conn.plugged else conn.resting_status())

    async def unlock(self: ChargerSimulator, connector_id: int) -> None:
        conn = self.connector(connector_id)
        if conn.transaction is not None:
            await self._end_transaction(conn, "UnlockCommand")
            await self.set_status(conn, "Finishing")

    def reset_when_idle(self: ChargerSimulator, kind: str) -> bool:
        """Schedule a reset after the running sessions; False if there are none."""
        if all(c.transaction is None for c in self.connectors.values()):
            return False
        self._reset_when_idle = kind
        return True

    async def reset(
        self: ChargerSimulator,
        kind: str = "Soft",
        *,
        reason: str | None = None,
        boot_reason: str = "RemoteReset",
        wait: float | None = 30,
    ) -> None:
        """Stop every session (SoftReset / HardReset), clear faults, reconnect and boot."""
        stop_reason = reason or ("HardReset" if kind == "Hard" else "SoftReset")
        for conn in self.connectors.values():
            if conn.transaction is not None:
                await self._end_transaction(conn, stop_reason)
        for conn in [self.charger, *self.connectors.values()]:
            conn.error_code = "NoError"
            conn.status = conn.resting_status() if conn.id else "Available"
        await self._restart(boot_reason, wait)

    async def _restart(self: ChargerSimulator, boot_reason: str, wait: float | None) -> None:
        self._boot_reason = boot_reason
        self._ready.clear()
        self._accepted = False
        if self._ws is not None:
            await self._ws.close()
        if self._offline:  # rebooted while offline: it stays offline
            return
        await self.connect(wait)

    async def update_firmware(
        self: ChargerSimulator,
        location: str,
        retrieve_at: datetime | None = None,
        request_id: int | None = None,
    ) -> None:
        """Download, install, reboot into the new version; `firmware_failure` makes the
        download or the installation fail instead."""
        if retrieve_at is not None:
            await self.clock.sleep_until(retrieve_at)
        await self._firmware("Downloading", request_id)
        await self.clock.sleep(self.firmware_step_s)
        if self.firmware_failure == "DownloadFailed":
            await self._firmware("DownloadFailed", request_id)
            return
        await self._firmware("Downloaded", request_id)
        await self._firmware("Installing", request_id)
        await self.clock.sleep(self.firmware_step_s)
        if self.firmware_failure == "InstallationFailed":
            await self._firmware("InstallationFailed", request_id)
            return
        await self._firmware("Installed", request_id)
        self.firmware_version = self.next_firmware_version or next_version(
            self.firmware_version, location
        )
        await self.reset("Hard", reason="Reboot", boot_reason="FirmwareUpdate")

    async def _firmware(self: ChargerSimulator, status: str, request_id: int | None) -> None:
        self.firmware_status = status
        await self.send_now(self.protocol.firmware_status(status, request_id))

    async def upload_diagnostics(self: ChargerSimulator, request_id: int | None = None) -> None:
        for status in ("Uploading", "Uploaded"):
            self.upload_status = status
            await self.send_now(self.protocol.upload_status(status, request_id))
            await self.clock.sleep(self.firmware_step_s / 2)

    async def trigger(self: ChargerSimulator, what: str, connector_id: int | None) -> None:
        """Send the message a TriggerMessage asked for (already answered Accepted)."""
        conns = [self.connector(connector_id)] if connector_id else list(self.connectors.values())
        if what == "BootNotification":
            with contextlib.suppress(*LINK_ERRORS, OCPPError):
                await self.protocol.boot("Triggered")
        elif what == "Heartbeat":
            await self.send_now(self.protocol.heartbeat())
        elif what == "StatusNotification":
            await self.send_statuses(conns if connector_id else [self.charger, *conns])
        elif what == "MeterValues":
            for conn in conns:
                await self.send_now(self.protocol.meter_now(conn))
        elif what == "FirmwareStatusNotification":
            await self.send_now(self.protocol.firmware_status(self.firmware_status, None))
        elif what in ("DiagnosticsStatusNotification", "LogStatusNotification"):
            await self.send_now(self.protocol.upload_status(self.upload_status, None))
        elif what == "TransactionEvent":
            for conn in conns:
                if conn.transaction is not None:
                    msg = self.protocol.charging_state(conn, conn.transaction, "Trigger")
                    if msg is not None:
                        await self.deliver(msg)

    TRIGGERS: tuple[str, ...] = (
        "BootNotification",
        "Heartbeat",
        "StatusNotification",
        "MeterValues",
        "FirmwareStatusNotification",
        "DiagnosticsStatusNotification",
        "LogStatusNotification",
        "TransactionEvent",
    )
