"""Meter readings of a charging session: normalising samples, trusting (or not) the
charger's clock, energy across register resets, and the car-full moment.

These are the rules; `session_batch` stores many chargers' samples at once with them and
`sessions` uses them at start and stop. Energy is integer Wh, never a float
(domain.md §5: energy = (stop − start) Wh / 1000, to 0.001 kWh).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Protocol

ENERGY_REGISTER = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
# Billing reads the charger's own outlet meter; an EV- or inlet-side reading is kept for
# review but never billed.
BILLED_LOCATIONS = ("Outlet", "")
TOTAL_PHASES = ("L1", "L2", "L3", "L1-N", "L2-N", "L3-N")
# Prefixed units OCPP allows, turned into their base unit so every stored Wh is a Wh.
SCALE = {"kWh": ("Wh", 1000), "kW": ("W", 1000), "kvarh": ("varh", 1000)}
SCALE |= {"kvar": ("var", 1000), "kVA": ("VA", 1000), "Celcius": ("Celsius", 1)}


class SessionLike(Protocol):
    """What the rules read and move: a ChargingSession row, or the batch's light copy."""

    id: int
    charge_point_id: int
    connector_id: int
    started_at: datetime
    meter_start_wh: int | None
    meter_start_source: str
    charging_seen: bool
    low_power_count: int
    low_power_since: datetime | None
    car_full_at: datetime | None
    unplugged_at: datetime | None
    last_seq_no: int | None
    clock_corrected: bool


@dataclass(frozen=True)
class SessionRules:
    """Tunable judgement calls, set by the bridge's configuration."""

    car_full_power_w: Decimal = Decimal(100)  # below this the car is taking nothing …
    car_full_samples: int = 2  # … for this many samples in a row
    earliest_valid: datetime = datetime(2020, 1, 1, tzinfo=UTC)  # a clock before: unset
    max_clock_skew: timedelta = timedelta(minutes=5)  # a clock this far ahead: wrong
    # A first reading above (max power × elapsed × margin) cannot follow a real 0 start.
    plausibility_margin: Decimal = Decimal("1.5")
    plausibility_slack_wh: int = 1000


@dataclass(frozen=True)
class SampleIn:
    """One sampled value as the charger sent it, already version-neutral."""

    reported_at: str | None  # the MeterValue's timestamp, as text
    value: str  # text, so no float ever touches a reading
    measurand: str = ENERGY_REGISTER
    unit: str = "Wh"
    multiplier: int = 0  # 2.0.1 unitOfMeasure.multiplier (power of ten)
    phase: str = ""
    location: str = "Outlet"
    context: str = "Sample.Periodic"


def normalise(sample: SampleIn) -> tuple[Decimal, str] | None:
    """(value, unit) in base units, or None when the value is not a number."""
    try:
        value = Decimal(sample.value)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    unit, factor = SCALE.get(sample.unit, (sample.unit, 1))
    return value * factor * (Decimal(10) ** sample.multiplier), unit


def whole_wh(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def parse_time(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    # A charger that omits the offset means UTC (OCPP requires UTC timestamps).
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def trusted_time(raw: str | None, now: datetime, rules: SessionRules) -> tuple[datetime, bool]:
    """The instant to record and whether the charger's clock was overridden.

    A timestamp before `earliest_valid` (a charger that lost its clock boots in 1970 or
    2000) or ahead of our clock by more than the skew cannot be billed on; the time we
    received the message is the best we know.
    """
    parsed = parse_time(raw)
    if parsed is None or parsed < rules.earliest_valid or parsed > now + rules.max_clock_skew:
        return now, True
    return parsed, False


def energy_wh(start: int | None, readings: Sequence[int], stop: int | None) -> int:
    """Energy delivered, in Wh, from the start reading through the register readings to
    the stop reading, across register resets and never negative.

    A drop in the register is a reset (the meter counts again from 0, so the lower
    reading is all energy) unless the next reading climbs back to where it was: then
    the drop was a glitch, and is ignored.
    """
    sequence = [r for r in ([start, *readings, stop]) if r is not None]
    if not sequence:
        return 0
    total, base = 0, sequence[0]
    rest = sequence[1:]
    for i, reading in enumerate(rest):
        if reading >= base:
            total += reading - base
            base = reading
            continue
        following = rest[i + 1] if i + 1 < len(rest) else None
        if following is not None and following >= base:
            continue  # glitch
        total += reading
        base = reading
    return total


def plausible_from_zero(
    reading_wh: int,
    started_at: datetime,
    at: datetime,
    max_power_w: int,
    rules: SessionRules,
) -> bool:
    """Could a register that read 0 at the start read this much by now? If not, the
    start's 0 was a placeholder and the first real reading is the start."""
    hours = Decimal(max(0, int((at - started_at).total_seconds()))) / 3600
    ceiling = Decimal(max_power_w) * hours * rules.plausibility_margin
    return reading_wh <= ceiling + rules.plausibility_slack_wh


@dataclass(frozen=True)
class Reading:
    """A newly stored sample, reduced to what session bookkeeping needs."""

    at: datetime
    register_wh: int | None = None
    power_w: Decimal | None = None


def readings_of(rows: Iterable[dict[str, object]]) -> list[Reading]:
    """Register and total-power readings from stored sample rows, oldest first. Per-phase
    powers at one instant add up when the charger sends no total."""
    registers: list[Reading] = []
    totals: dict[datetime, Decimal] = {}
    phases: dict[datetime, Decimal] = {}
    for row in rows:
        at, value = row["timestamp"], row["value"]
        assert isinstance(at, datetime) and isinstance(value, Decimal)
        if row["location"] not in BILLED_LOCATIONS:
            continue
        if row["measurand"] == ENERGY_REGISTER and row["phase"] == "" and row["unit"] == "Wh":
            registers.append(Reading(at, register_wh=whole_wh(value)))
        elif row["measurand"] == POWER and row["unit"] == "W":
            if row["phase"] == "":
                totals[at] = value
            elif row["phase"] in TOTAL_PHASES:
                phases[at] = phases.get(at, Decimal(0)) + value
    powers = [Reading(at, power_w=p) for at, p in (phases | totals).items()]
    return sorted([*registers, *powers], key=lambda r: r.at)


def apply_readings(
    session: SessionLike,
    readings: Sequence[Reading],
    rules: SessionRules,
    max_power_w: int | None = None,
) -> None:
    """Advance the session with new readings: a missing or placeholder start meter, the
    latest register, and car-full by power (falling below the threshold for
    `car_full_samples` samples after it had been charging; charging again clears it)."""
    for reading in readings:
        if reading.register_wh is not None:
            settle_start(session, reading.register_wh, reading.at, max_power_w, rules)
        if reading.power_w is None:
            continue
        if reading.power_w >= rules.car_full_power_w:
            if _before_car_full(session, reading.at):
                continue  # a late reading from before the car was full changes nothing
            session.charging_seen = True
            session.low_power_count = 0
            session.low_power_since = None
            session.car_full_at = None
        elif session.charging_seen and session.car_full_at is None:
            # Counting stops once the car is full: nothing changes (and nothing is
            # written) while it sits there drawing nothing.
            session.low_power_count = (session.low_power_count or 0) + 1
            session.low_power_since = session.low_power_since or reading.at
            if session.low_power_count >= rules.car_full_samples:
                session.car_full_at = session.low_power_since


def _before_car_full(session: SessionLike, at: datetime) -> bool:
    """Chargers send status and queued meter values on separate paths, so a reading or
    status taken before the car-full moment can arrive after it. Only something that
    happened later may say the car is charging again."""
    return session.car_full_at is not None and at < session.car_full_at


def settle_start(
    session: SessionLike,
    reading_wh: int,
    at: datetime,
    max_power_w: int | None,
    rules: SessionRules,
) -> None:
    """Decide an unconfirmed start meter with the first register reading."""
    if session.meter_start_source == "missing":
        session.meter_start_wh = reading_wh
        session.meter_start_source = "first_sample"
    elif session.meter_start_source == "zero":
        power = max_power_w or 0
        if plausible_from_zero(reading_wh, session.started_at, at, power, rules):
            session.meter_start_source = "charger"
        else:
            session.meter_start_wh = reading_wh
            session.meter_start_source = "first_sample"


def start_meter(meter_start: int | None) -> tuple[int | None, str]:
    """A start reading as the charger gave it: 0 is often a placeholder of chargers that
    do not know their register at start, so it stays unconfirmed until a reading."""
    if meter_start is None:
        return None, "missing"
    if meter_start == 0:
        return 0, "zero"
    return meter_start, "charger"


def apply_status(session: SessionLike, status: str, at: datetime) -> None:
    """The idle-fee moments from connector states (1.6 words; 2.0.1 maps onto them):
    SuspendedEV after Charging is the car full (charging again clears it), Available is
    the cable gone (domain.md §5)."""
    if status == "Charging":
        if _before_car_full(session, at):
            return  # overtaken by a later "car full": the order of events is their time
        session.charging_seen = True
        session.car_full_at = None
        session.low_power_count = 0
        session.low_power_since = None
    elif status == "SuspendedEV" and session.charging_seen and session.car_full_at is None:
        session.car_full_at = at
    elif status == "Available" and session.unplugged_at is None:
        session.unplugged_at = at
