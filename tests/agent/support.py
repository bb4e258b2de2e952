"""Helpers for agent tests: real pymodbus servers, a real hub over SQLite, agent config files."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pymodbus.framer import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from citysense.contract import Reading
from citysense.runner import STOP_GRACE_S, cancel_and_wait
from edge_agent.app import Agent
from hub.config import HubSettings
from hub.runtime import RunningHub, running_hub
from hub.store.base import StoredReading
from tests.harness import free_port

COUNTER_PROFILE = """
id: test_counter
model: Test counter
manufacturer: Test
source: written for the agent tests
category: test
points:
  - {metric: count, table: holding, address: 0, type: uint16}
  - {metric: level, table: holding, address: 1, type: int16, scale: 0.01, unit: m}
"""
KIND = """
kind: test_site
name: Test site
department: water
connections: [{id: bus, type: modbus_tcp}]
devices:
  - {id: c1, profile: test_counter, connection: bus, unit_id: 1}
  - {id: c2, profile: test_counter, connection: bus, unit_id: 2}
"""
FLEET = {
    "regions": [
        {"code": "440981", "name": "City", "level": "city"},
        {"code": "440981103", "name": "Town", "level": "town", "parent": "440981"},
    ],
    "departments": [{"id": "water", "name": "Water"}],
    "nodes": [{"id": "N1", "kind": "test_site", "region": "440981103", "endpoints": {"bus": {"host": "h", "port": 1}}}],
}


def write_site(root: Path) -> tuple[Path, Path, Path]:
    """Write profiles/, kinds/ and fleet.yaml under ``root``; return their paths."""
    (root / "profiles").mkdir(parents=True, exist_ok=True)
    (root / "profiles" / "test_counter.yaml").write_text(COUNTER_PROFILE)
    (root / "kinds").mkdir(exist_ok=True)
    (root / "kinds" / "test_site.yaml").write_text(KIND)
    (root / "fleet.yaml").write_text(yaml.safe_dump(FLEET))
    return root / "profiles", root / "kinds", root / "fleet.yaml"


def agent_config(root: Path, mqtt_url: str, modbus_port: int, **uplink: Any) -> Path:
    """Write node N1's agent config (two counters polled at 1 Hz) and return its path."""
    cfg = {
        "node_id": "N1",
        "hub": {"url": mqtt_url, "connect_timeout_s": 3},
        "profiles_dir": "profiles",
        "connections": [
            {"id": "bus", "type": "modbus_tcp", "host": "127.0.0.1", "port": modbus_port, "timeout_s": 0.5}
        ],
        "devices": [
            {"id": "c1", "profile": "test_counter", "connection": "bus", "unit_id": 1, "poll_interval_s": 1},
            {"id": "c2", "profile": "test_counter", "connection": "bus", "unit_id": 2, "poll_interval_s": 1},
        ],
        "uplink": {"batch_max_wait_s": 0.2, "status_interval_s": 5, "backoff_max_s": 2, **uplink},
    }
    path = root / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@dataclass
class CounterServer:
    """A Modbus TCP server whose units count their reads: holding register 0 goes up by one per read."""

    port: int
    reads: dict[int, int]


def counting_device(unit: int, reads: dict[int, int], size: int = 100) -> SimDevice:
    """A unit whose register 0 is incremented before every read that covers it."""

    async def count(fc: int, start: int, address: int, n: int, regs: list[int], values: object) -> None:
        if fc == 3 and values is None and address <= 0 < address + n:
            reads[unit] = reads.get(unit, 0) + 1
            regs[0 - start] = reads[unit] & 0xFFFF

    return SimDevice(unit, simdata=[SimData(0, count=size, values=0, datatype=DataType.REGISTERS)], action=count)


@contextlib.asynccontextmanager
async def modbus_tcp_server(devices: list[SimDevice], *, rtu_framing: bool = False) -> AsyncIterator[int]:
    """Serve ``devices`` on a free loopback port until the block exits; yields the port.

    ``rtu_framing`` makes it a serial server / DTU: RTU frames (with CRC) over TCP.
    """
    port = free_port()
    framer = FramerType.RTU if rtu_framing else FramerType.SOCKET
    server = ModbusTcpServer(devices, address=("127.0.0.1", port), framer=framer)
    async with asyncio.TaskGroup() as tg:
        serve = tg.create_task(server.serve_forever(), name="test:modbus")
        try:
            await asyncio.sleep(0.2)
            yield port
        finally:
            await server.shutdown()
            await cancel_and_wait([serve], grace_s=STOP_GRACE_S)


@contextlib.asynccontextmanager
async def counter_server(units: tuple[int, ...] = (1, 2)) -> AsyncIterator[CounterServer]:
    """Serve counting units (see :func:`counting_device`)."""
    reads: dict[int, int] = {}
    async with modbus_tcp_server([counting_device(u, reads) for u in units]) as port:
        yield CounterServer(port, reads)


@contextlib.asynccontextmanager
async def hub_on(root: Path, mqtt_url: str, **settings: Any) -> AsyncIterator[RunningHub]:
    """Run the real hub (SQLite store, unless ``settings`` say otherwise) against the broker with node N1."""
    profiles, kinds, fleet = write_site(root)
    hub_settings = HubSettings(
        data_dir=root / "hub",
        mqtt_url=mqtt_url,
        api_port=0,
        profiles_dir=profiles,
        node_kinds_dir=kinds,
        fleet_file=fleet,
        **settings,
    )
    async with running_hub(hub_settings) as hub:
        async with asyncio.timeout(15):
            await hub.consumer.subscribed.wait()
        yield hub


async def hub_readings(hub: RunningHub, device: str, metric: str = "count") -> list[StoredReading]:
    """Every stored reading of ``N1.<device>``'s ``metric``, by time."""
    return await hub.services.store.query_range(f"N1.{device}", "test_counter", [metric], 0, 2**62, limit=100_000)


async def hub_has_all(hub: RunningHub, rec: Recorder, devices: Sequence[str] = ("c1", "c2")) -> bool:
    """Whether every ``count`` reading the recorder saw enter the agent's buffer is stored at the hub."""
    for d in devices:
        sent = {r.ts_ms for r in rec.seen if r.device == d and r.metric == "count"}
        if not sent <= {r.ts_ms for r in await hub_readings(hub, d)}:
            return False
    return True


async def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str, every_s: float = 0.25) -> None:
    """Wait until the async ``predicate`` returns true; fail naming ``what``."""
    try:
        async with asyncio.timeout(timeout_s):
            while not await predicate():  # noqa: ASYNC110 - the hub store has no change event to await
                await asyncio.sleep(every_s)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}") from None


class Recorder:
    """Sits between an agent's pollers and its uplink and remembers what entered the buffer."""

    def __init__(self, inner: Agent) -> None:
        self.inner = inner.uplink
        self.seen: list[Reading] = []

    async def put(self, readings: Sequence[Reading]) -> None:
        await self.inner.put(readings)
        self.seen.extend(readings)


def recording(agent: Agent) -> Recorder:
    """Put a :class:`Recorder` between every poller of ``agent`` and its uplink."""
    rec = Recorder(agent)
    for p in agent.pollers:
        p.sink = rec
    return rec


def recorded_counts(rec: Recorder, devices: Sequence[str]) -> dict[str, list[int]]:
    """The times of every ``count`` reading the recorder saw per device, in order."""
    return {d: sorted(r.ts_ms for r in rec.seen if r.device == d and r.metric == "count") for d in devices}


async def assert_stored_once(hub: RunningHub, sent: dict[str, list[int]]) -> None:
    """Every reading in ``sent`` (from :func:`recorded_counts`) is stored, in order, and none twice."""
    for device, times in sent.items():
        stored = [r.ts_ms for r in await hub_readings(hub, device)]
        assert len(stored) == len(set(stored))  # none twice
        assert stored[: len(times)] == times  # every reading the agent had recorded by then
