"""Simulated Modbus TCP devices for bench/agent_poll.py: one pymodbus server per port, unit 1, 40 registers.

Run by the benchmark: ``python -m bench.agent_sim PORT[,PORT...]``. Values are
fixed (the agents under test report every poll either way), so the simulator
spends its CPU on answering, not on changing data.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import sys

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice


def registers() -> list[int]:
    regs = list(range(100, 110))  # 10 x uint16
    regs += [(-50 + i * 10) & 0xFFFF for i in range(10)]  # 10 x int16 (scaled 0.1)
    for i in range(5):  # 5 x float32, big-endian words
        regs += list(struct.unpack(">HH", struct.pack(">f", 230.5 + i)))
    for i in range(5):  # 5 x uint32
        regs += list(struct.unpack(">HH", struct.pack(">I", 100_000 + i)))
    return regs


async def main(ports: list[int]) -> None:
    servers = [
        ModbusTcpServer(
            [SimDevice(1, simdata=[SimData(0, values=registers(), datatype=DataType.REGISTERS)])],
            address=("127.0.0.1", port),
        )
        for port in ports
    ]
    async with asyncio.TaskGroup() as tg:
        for i, server in enumerate(servers):
            tg.create_task(server.serve_forever(), name=f"sim:{ports[i]}")


if __name__ == "__main__":
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    asyncio.run(main([int(p) for p in sys.argv[1].split(",")]))
