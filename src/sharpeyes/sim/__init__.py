"""Simulated GB/T 28181 devices, NVRs and a county for tests, demos and load runs."""

from sharpeyes.sim.county import build_county
from sharpeyes.sim.device import FAULTS, SimChannel, SimDevice, SimDeviceConfig
from sharpeyes.sim.fleet import SimFleet
from sharpeyes.sim.stats import FleetStats, Reservoir

__all__ = [
    "FAULTS",
    "FleetStats",
    "Reservoir",
    "SimChannel",
    "SimDevice",
    "SimDeviceConfig",
    "SimFleet",
    "build_county",
]
