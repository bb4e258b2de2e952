"""The poller against real pymodbus servers: holes in the map are split around, qualities are honest."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import yaml
from pymodbus.simulator import DataType, SimData, SimDevice

from citysense.agentconfig import Connection
from citysense.contract import Reading
from citysense.profiles.model import Profile
from edge_agent.drivers.modbus.link import ModbusLink
from edge_agent.drivers.modbus.poller import DevicePoller
from tests.agent.support import modbus_tcp_server


class ListSink:
    def __init__(self) -> None:
        self.readings: list[Reading] = []

    async def put(self, readings: Sequence[Reading]) -> None:
        self.readings.extend(readings)


def profile(points: str, **defaults: Any) -> Profile:
    data = {"id": "p", "model": "m", "manufacturer": "x", "source": "test", "category": "test", "defaults": defaults}
    data["points"] = yaml.safe_load(points)
    return Profile.model_validate(data)


HOLEY = """
- {metric: a, table: holding, address: 0, type: uint16}
- {metric: b, table: holding, address: 1, type: uint16}
- {metric: c, table: holding, address: 2, type: float32}
- {metric: d, table: holding, address: 6, type: uint16}
- {metric: e, table: holding, address: 7, type: int16, scale: 0.1}
"""


def holey_device(unit: int) -> SimDevice:
    # Registers 0..3 and 6..7 exist; 4 and 5 are a hole: reading across them gets exception 2.
    return SimDevice(
        unit,
        simdata=[
            SimData(0, values=[11, 12, *struct.unpack(">HH", struct.pack(">f", 1.5))], datatype=DataType.REGISTERS),
            SimData(6, values=[16, 0xFFF6], datatype=DataType.REGISTERS),
        ],
    )


def link(port: int) -> ModbusLink:
    return ModbusLink(Connection(id="bus", type="modbus_tcp", host="127.0.0.1", port=port, timeout_s=0.5))


async def test_merged_read_over_a_hole_is_split_and_every_valid_point_arrives() -> None:
    prof = profile(HOLEY)
    async with modbus_tcp_server([holey_device(1)]) as port:
        conn = link(port)
        poller = DevicePoller("d1", prof, 1, conn, ListSink(), 1.0)
        assert len(poller.requests) == 1  # the planner merged 0..7 across the hole
        try:
            first = {r.metric: (r.value, r.quality) for r in await poller.poll_once()}
            second = {r.metric: (r.value, r.quality) for r in await poller.poll_once()}
        finally:
            await conn.close()
    expected = {"a": (11, "good"), "b": (12, "good"), "c": (1.5, "good"), "d": (16, "good"), "e": (-1.0, "good")}
    assert first == expected and second == expected
    assert [(r.start, r.count) for r in poller.requests] == [(0, 4), (6, 2)]  # the split is remembered
    assert poller.health().state == "ok"


async def test_a_point_inside_the_hole_is_reported_as_device_exception_and_others_arrive() -> None:
    prof = profile(HOLEY + "- {metric: f, table: holding, address: 5, type: uint16}\n")
    async with modbus_tcp_server([holey_device(1)]) as port:
        conn = link(port)
        poller = DevicePoller("d1", prof, 1, conn, ListSink(), 1.0)
        try:
            rounds = [{r.metric: (r.value, r.quality) for r in await poller.poll_once()} for _ in range(3)]
        finally:
            await conn.close()
    for got in rounds:
        assert got["f"] == (None, "device_exception")
        assert {m: got[m] for m in "abcde"} == {
            "a": (11, "good"), "b": (12, "good"), "c": (1.5, "good"), "d": (16, "good"), "e": (-1.0, "good"),
        }  # fmt: skip
    assert ("holding", 5, 1) in poller.refused


async def test_a_unit_that_does_not_exist_times_out_and_is_quarantined() -> None:
    prof = profile(HOLEY)
    async with modbus_tcp_server([holey_device(1)]) as port:
        conn = link(port)
        poller = DevicePoller("ghost", prof, 9, conn, ListSink(), 1.0)
        try:
            rounds = [await poller.poll_once() for _ in range(3)]
        finally:
            await conn.close()
    assert all(r.quality in ("timeout", "device_exception", "comm_failure") for rs in rounds for r in rs)
    assert all(r.value is None for rs in rounds for r in rs)


async def test_every_read_function_code_reaches_its_table() -> None:
    # FC 1 coils, FC 2 discrete inputs, FC 3 holding, FC 4 input registers: four separate tables.
    prof = profile(
        """
- {metric: lamp_on, table: coil, address: 1, type: bool}
- {metric: door_open, table: discrete_input, address: 2, type: bool}
- {metric: setpoint, table: holding, address: 0, type: uint16}
- {metric: level, table: input, address: 3, type: int16, scale: 0.01, unit: m}
"""
    )
    device = SimDevice(
        1,
        simdata=(
            [SimData(0, values=[False, True, False, False], datatype=DataType.BITS)],
            [SimData(0, values=[False, False, True, False], datatype=DataType.BITS)],
            [SimData(0, values=[77, 0, 0, 0], datatype=DataType.REGISTERS)],
            [SimData(0, values=[0, 0, 0, 0xFF38], datatype=DataType.REGISTERS)],
        ),
    )
    async with modbus_tcp_server([device]) as port:
        conn = link(port)
        try:
            got = {
                r.metric: (r.value, r.quality)
                for r in await DevicePoller("d1", prof, 1, conn, ListSink(), 1).poll_once()
            }
        finally:
            await conn.close()
    assert got == {
        "lamp_on": (True, "good"), "door_open": (True, "good"), "setpoint": (77, "good"), "level": (-2.0, "good"),
    }  # fmt: skip
