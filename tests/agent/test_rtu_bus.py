"""A shared RS-485 bus (RTU over a socat pseudo-terminal pair): a dead unit does not stall the others."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from pymodbus.server import ModbusSerialServer

from citysense.agentconfig import Connection
from citysense.contract import Reading
from citysense.profiles.model import Profile
from citysense.runner import STOP_GRACE_S, cancel_and_wait
from edge_agent.drivers.modbus.link import ModbusLink
from edge_agent.drivers.modbus.poller import DevicePoller
from tests.agent.support import counting_device
from tests.agent.test_modbus_read import profile

RUN_S = 8


@pytest.fixture
def pty_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two linked pseudo-terminals, like the two ends of an RS-485 line."""
    a, b = tmp_path / "ttyA", tmp_path / "ttyB"
    proc = subprocess.Popen(
        ["socat", "-d", "-d", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if (a.exists() and b.exists()) or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert a.exists() and b.exists(), "socat did not create the pty pair"
        yield str(a), str(b)
    finally:
        proc.terminate()
        proc.wait(timeout=5)


@asynccontextmanager
async def rtu_server(port: str, units: Sequence[int], reads: dict[int, int], mute: set[int]) -> AsyncIterator[None]:
    """An RTU server for ``units``; a unit in ``mute`` stops answering (its reply frames are swallowed)."""

    def swallow(sending: bool, frame: bytes) -> bytes:
        return b"" if sending and frame and frame[0] in mute else frame

    server = ModbusSerialServer(
        [counting_device(u, reads) for u in units], port=port, baudrate=115200, trace_packet=swallow
    )
    task = asyncio.create_task(server.serve_forever(), name="test:rtu-server")
    try:
        await asyncio.sleep(0.3)
        yield
    finally:
        await server.shutdown()
        await cancel_and_wait([task], grace_s=STOP_GRACE_S)


class ListSink:
    def __init__(self) -> None:
        self.readings: list[Reading] = []

    async def put(self, readings: Sequence[Reading]) -> None:
        self.readings.extend(readings)


def counter_profile() -> Profile:
    return profile(
        """
- {metric: count, table: holding, address: 0, type: uint16}
- {metric: other, table: holding, address: 40, type: uint16}
"""
    )


async def test_dead_unit_on_a_shared_rtu_bus_does_not_stall_the_others(pty_pair: tuple[str, str]) -> None:
    server_end, agent_end = pty_pair
    reads: dict[int, int] = {}
    conn = Connection(
        id="rs485", type="modbus_rtu", serial_port=agent_end, baudrate=115200, timeout_s=0.4, inter_frame_delay_s=0.005
    )
    link = ModbusLink(conn)
    sink = ListSink()
    prof = counter_profile()
    pollers = [DevicePoller(f"u{u}", prof, u, link, sink, 1.0) for u in (1, 2, 7, 8)]
    mute: set[int] = set()
    async with rtu_server(server_end, (1, 2, 7, 8), reads, mute):
        try:
            async with asyncio.timeout(RUN_S):
                async with asyncio.TaskGroup() as tg:
                    for p in pollers:
                        tg.create_task(p.run(), name=f"test:poll:{p.device_id}")
                    await asyncio.sleep(2)
                    mute.update({7, 8})  # units 7 and 8 stop answering (a cut cable, a dead sensor)
        except TimeoutError:
            pass
        finally:
            await link.close()
    for unit in ("u1", "u2"):
        good = [r for r in sink.readings if r.device == unit and r.metric == "count" and r.quality == "good"]
        # Polled at 1 Hz for RUN_S seconds while two dead units shared the bus: no poll lost.
        assert len(good) >= RUN_S - 1, (unit, len(good))
        values = [r.value for r in good]
        assert values == sorted(values)
    for dead in pollers[2:]:
        assert dead.health().state == "quarantined"
        mine = [r for r in sink.readings if r.device == dead.device_id and r.metric == "count"]
        assert mine[0].quality == "good" and mine[-1].quality == "timeout" and mine[-1].value is None
