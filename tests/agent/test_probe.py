"""``citysense-agent probe`` prints every interpretation; RTU over TCP reaches a serial server."""

from __future__ import annotations

import asyncio
import struct
import sys
from pathlib import Path

from pymodbus.simulator import DataType, SimData, SimDevice

from citysense.codec import DataType as T
from edge_agent.probe import interpretations, render
from tests.agent.test_modbus_read import profile

ROOT = Path(__file__).resolve().parents[2]
VOLTS = struct.unpack(">HH", struct.pack(">f", 231.4))  # ABCD
VOLTS_CDAB = [VOLTS[1], VOLTS[0]]


def test_the_right_layout_is_in_the_table() -> None:
    rows = interpretations([*VOLTS_CDAB, 0x1234], 100)
    by = {(r.address, r.dtype): r.values for r in rows}
    assert abs(by[(100, T.FLOAT32)]["CDAB"] - 231.4) < 1e-4  # type: ignore[operator]
    assert by[(100, T.UINT16)] == {"ABCD": VOLTS_CDAB[0], "BADC": int.from_bytes(VOLTS_CDAB[0].to_bytes(2, "little"))}
    assert (102, T.UINT32) not in by  # only one register left at 102
    text = render(rows, [*VOLTS_CDAB, 0x1234], 100)
    assert "231.4" in text and "float32" in text and "102=0x1234" in text


def test_profile_scale_is_shown_beside_the_raw_value() -> None:
    prof = profile("- {metric: level, table: holding, address: 5, type: int16, scale: 0.01, unit: m}")
    rows = interpretations([1234], 5, prof)
    text = render(rows, [1234], 5)
    assert "1234 (12.34)" in text and "level" in text


async def test_probe_command_over_rtu_over_tcp() -> None:
    from tests.agent.support import modbus_tcp_server

    device = SimDevice(3, simdata=[SimData(0, values=[0, *VOLTS_CDAB, 7], datatype=DataType.REGISTERS)])
    async with modbus_tcp_server([device], rtu_framing=True) as port:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "edge_agent.cli", "probe", "--host", "127.0.0.1", "--port", str(port),
            "--rtu-over-tcp", "--unit", "3", "--address", "1", "--count", "3",
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    line = next(line for line in text.splitlines() if line.split()[:2] == ["1", "float32"])
    assert "231.4" in line
