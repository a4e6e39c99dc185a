"""What a simulated charger knows about itself, version-neutral.

Statuses use the OCPP 1.6 words (Available, Preparing, Charging, SuspendedEV, Finishing,
Unavailable, Faulted); the 2.0.1 side maps them onto connector status and charging state.
Stop reasons use the 1.6 words too and are mapped the same way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ocpp_bridge.simulator.curve import WS_PER_WH, Battery, PowerCurve


@dataclass
class Transaction:
    connector_id: int
    id_tag: str
    meter_start_wh: int
    started_at: datetime
    local_id: str = field(default_factory=lambda: str(uuid.uuid4()))  # 2.0.1 transactionId
    remote_id: int | None = None  # 1.6 transactionId, given by the central system
    remote_start_id: int | None = None
    seq_no: int = 0
    charging_state: str = "Charging"
    authorized: bool = True  # False when the central system refused the start
    ended: bool = False
    last_sample_at: datetime = field(init=False)  # energy is accounted up to here

    def __post_init__(self) -> None:
        self.last_sample_at = self.started_at

    def next_seq_no(self) -> int:
        seq = self.seq_no
        self.seq_no += 1
        return seq


@dataclass
class Connector:
    id: int
    status: str = "Available"
    error_code: str = "NoError"
    plugged: bool = False
    operative: bool = True
    pending_inoperative: bool = False
    meter_ws: int = 0  # lifetime import register, watt-seconds
    power_w: int = 0
    battery: Battery | None = None
    curve: PowerCurve = field(default_factory=PowerCurve)
    transaction: Transaction | None = None

    @property
    def meter_wh(self) -> int:
        return self.meter_ws // WS_PER_WH

    @property
    def faulted(self) -> bool:
        return self.status == "Faulted"

    def resting_status(self) -> str:
        """The status the connector settles in when nothing is going on."""
        if not self.operative:
            return "Unavailable"
        return "Preparing" if self.plugged else "Available"


@dataclass(frozen=True)
class SimEvent:
    """One recorded exchange: `out` = sent by the charger (with the answer it got),
    `in` = a command from the central system (with the charger's answer)."""

    direction: str
    action: str
    payload: dict[str, Any]
    response: dict[str, Any] | None
    at: datetime
    error: str | None = None
