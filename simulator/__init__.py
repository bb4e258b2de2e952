"""Simulated field devices: pymodbus servers that serve each profile's registers.

* :mod:`simulator.models` -- how each kind of sensor's values change over time.
* :mod:`simulator.device` -- one device: its registers, refreshed on every read.
* :mod:`simulator.fleet` -- one node = one Modbus TCP server for all its devices.
* :mod:`simulator.cli` -- ``citysense-sim``.
"""
