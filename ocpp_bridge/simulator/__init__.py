"""Charger simulator (issue 4): simulated OCPP 1.6J / 2.0.1 chargers for tests, demos and
load generation. `ChargerSimulator` scripts one charger; `run_fleet` drives thousands of
lean ones; `run_demo_fleet` keeps a few doing sessions for the platform's run command."""

from ocpp_bridge.simulator.clock import SimClock
from ocpp_bridge.simulator.curve import Battery, PowerCurve
from ocpp_bridge.simulator.fleet import FleetStats, run_fleet
from ocpp_bridge.simulator.model import Connector, SimEvent, Transaction
from ocpp_bridge.simulator.scenarios import run_demo_fleet, run_scenario
from ocpp_bridge.simulator.simulator import ChargerSimulator, SimulatorError

__all__ = [
    "Battery",
    "ChargerSimulator",
    "Connector",
    "FleetStats",
    "PowerCurve",
    "SimClock",
    "SimEvent",
    "SimulatorError",
    "Transaction",
    "run_demo_fleet",
    "run_fleet",
    "run_scenario",
]
