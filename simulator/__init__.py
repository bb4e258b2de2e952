"""Simulated field sites: pymodbus servers that serve each device profile's registers.

* :mod:`simulator.waveforms` -- pure functions of time: daily curves, seeded noise, rain, floods.
* :mod:`simulator.models` -- per device category, engineering values as a function of (time, seed, state).
* :mod:`simulator.registers` -- the register image of one device, encoded per its profile.
* :mod:`simulator.device` -- one device under one unit id: reads, checked writes that stick.
* :mod:`simulator.fleet` -- :class:`SimulatedNode` (one Modbus TCP server per node) and :class:`Fleet`.
* :mod:`simulator.cli` -- ``citysense-sim``.
"""

from simulator.fleet import Fleet, SimulatedNode

__all__ = ["Fleet", "SimulatedNode"]
