"""Writes of the new profile features against simulated devices that behave as the manuals say.

The EPEVER Tracer series accepts holding-register writes only with FC 16
(EPEVER communication instruction v2.5: "function code 10H" for 9000H
settings); the simulator refuses FC 06 for such points, as the controller does.
"""

from __future__ import annotations

import time

import pytest
from pymodbus.constants import ExcCodes
from pymodbus.simulator import DataType, SimData, SimDevice

from citysense.contract import Command
from citysense.profiles.model import Table
from citysense.quality import Quality
from edge_agent.commands import CommandServer
from edge_agent.drivers.modbus.poller import DevicePoller
from edge_agent.drivers.modbus.writer import write_point
from edge_agent.errors import ModbusError
from tests.agent.support import modbus_tcp_server
from tests.agent.test_modbus_read import ListSink, link, profile
from tests.agent.test_profile_features import EPEVER, LEVEL, device


@pytest.mark.parametrize(
    ("metric", "value", "address", "words"),
    [
        pytest.param("night_length", "11:30", 0x9065, [0x0B1E], id="hh-mm-timer-by-fc16"),
        pytest.param("clock", "2026-12-02T03:40:05", 0x9013, [0x2805, 0x0203, 0x1A0C], id="clock-set"),
    ],
)
async def test_forced_fc16_writes_reach_a_device_that_refuses_fc06(
    metric: str, value: str, address: int, words: list[int]
) -> None:
    dev = device(EPEVER, {})
    async with modbus_tcp_server([dev.sim_device()]) as port:
        conn = link(port)
        try:
            assert await write_point(conn, EPEVER, metric, 1, value) == value
            assert await conn.read(Table.HOLDING, 1, address, len(words)) == words
            with pytest.raises(ModbusError) as refused:  # what FC 06 gets from this controller
                await conn.write(Table.HOLDING, 1, 0x9065, [0x0C00])
            assert refused.value.exception_code == ExcCodes.ILLEGAL_FUNCTION
        finally:
            await conn.close()


async def test_write_only_command_is_sent_and_not_read_back() -> None:
    dev = device(LEVEL, {"decimal_places": 2})
    async with modbus_tcp_server([dev.sim_device()]) as port:
        conn = link(port)
        try:
            assert await write_point(conn, LEVEL, "save_settings", 1, 0) == 0
            # zero_offset's scale comes from decimal_places (2): 0.05 is raw 5
            assert await write_point(conn, LEVEL, "zero_offset", 1, 0.05) == pytest.approx(0.05)
            assert await conn.read(Table.HOLDING, 1, 0x000C, 1) == [5]
        finally:
            await conn.close()
    assert dev.state.written["save_settings"] == 0


async def test_bit_field_write_keeps_the_other_fields() -> None:
    prof = profile("""
- {metric: mode, table: holding, address: 0, type: uint16, mask: 0x0F00, shift: 8, unit: "", enum: {0: a, 5: b},
   writable: true}
- {metric: level, table: holding, address: 0, type: uint16, mask: 0x00FF, unit: "", range: [0, 255]}
""")
    sim = SimDevice(1, simdata=[SimData(0, values=[0xF0AB], datatype=DataType.REGISTERS)])
    async with modbus_tcp_server([sim]) as port:
        conn = link(port)
        try:
            assert await write_point(conn, prof, "mode", 1, 5) == 5
            assert await conn.read(Table.HOLDING, 1, 0, 1) == [0xF5AB]
        finally:
            await conn.close()


async def test_a_failed_read_back_is_reported_as_written_not_refused() -> None:
    prof = profile("- {metric: setpoint, table: holding, address: 0, type: uint16, unit: '', range: [0, 9], "
                   "writable: true}")  # fmt: skip
    writes: list[int] = []

    async def fail_reads(fc: int, *_args: object) -> ExcCodes | None:
        if fc == 6:
            writes.append(fc)
            return None
        return ExcCodes.DEVICE_BUSY  # the device acknowledged the write, then was busy when read

    sim = SimDevice(1, simdata=[SimData(0, values=[0], datatype=DataType.REGISTERS)], action=fail_reads)
    async with modbus_tcp_server([sim]) as port:
        conn = link(port)
        poller = DevicePoller("dut", prof, 1, conn, ListSink(), 1.0)
        server = CommandServer("N1", {"dut": poller})
        cmd = Command(id="c1", node="N1", action="write", device="dut", metric="setpoint", value=3,
                      expires_ms=time.time_ns() // 1_000_000 + 60_000)  # fmt: skip
        reply = await server(cmd)
        await conn.close()
    assert writes and set(writes) == {6}  # the write went out (pymodbus calls the hook per step)
    assert not reply.ok
    assert (reply.error or "").startswith("written, read-back failed"), reply.error
    assert Quality.DEVICE_EXCEPTION.wire in (reply.error or "")
