"""A faithful HTTP simulator of the Meraki Dashboard API, for tests, demos and benchmarks."""

from daemon.simulator.options import SimulatorOptions
from daemon.simulator.server import RunningSimulator, running_simulator, serve_forever
from daemon.simulator.simulator import Simulator
from daemon.simulator.world import World

__all__ = [
    "RunningSimulator",
    "Simulator",
    "SimulatorOptions",
    "World",
    "running_simulator",
    "serve_forever",
]
