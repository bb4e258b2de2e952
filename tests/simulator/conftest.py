"""Fixtures of the simulator tests: shipped definitions, a settable clock, nodes that are always stopped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import pytest
from pymodbus.client import AsyncModbusTcpClient

from citysense.nodekinds import NodeKind, default_node_kind_dir, load_node_kinds
from citysense.profiles import ProfileSet, load_profiles
from citysense.profiles.loader import default_profile_dir
from citysense.profiles.model import Point, Profile, Table
from citysense.profiles.transform import Value, to_value
from citysense.quality import Quality
from simulator.fleet import SimulatedNode

NOON = 1_783_224_000.0  # 2026-07-05 12:00 CST, a summer day


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, t: float = NOON) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="session")
def profiles() -> ProfileSet:
    return load_profiles(default_profile_dir())


@pytest.fixture(scope="session")
def kinds(profiles: ProfileSet) -> dict[str, NodeKind]:
    return load_node_kinds(default_node_kind_dir(), set(profiles))


@pytest.fixture
def clock() -> Clock:
    return Clock()


StartNode = Callable[..., Awaitable[SimulatedNode]]


@pytest.fixture
async def start_node(profiles: ProfileSet, kinds: dict[str, NodeKind], clock: Clock) -> AsyncIterator[StartNode]:
    """Start nodes on free ports (``start_node("smart_pole", seed=3)``); all are stopped after the test."""
    async with AsyncExitStack() as stack:

        async def start(kind: str, *, seed: int = 1, refresh_s: float = 1.0) -> SimulatedNode:
            node = SimulatedNode(kinds[kind], profiles, f"T-{kind}-{seed}", seed=seed, refresh_s=refresh_s, clock=clock)
            return await stack.enter_async_context(node)

        yield start


@pytest.fixture
async def connect() -> AsyncIterator[Callable[[SimulatedNode], Awaitable[AsyncModbusTcpClient]]]:
    """Connect Modbus clients to nodes; all are closed after the test."""
    clients: list[AsyncModbusTcpClient] = []

    async def make(node: SimulatedNode) -> AsyncModbusTcpClient:
        client = AsyncModbusTcpClient("127.0.0.1", port=node.port, timeout=2, retries=0)
        clients.append(client)
        assert await client.connect()
        return client

    yield make
    for client in clients:
        client.close()


async def read_point(client: AsyncModbusTcpClient, profile: Profile, point: Point, unit: int) -> tuple[Value, Quality]:
    """Read one point the way an agent does and decode it per profile."""
    address, count = profile.pdu_address(point), point.register_count
    if point.table is Table.COIL:
        rr = await client.read_coils(address, count=count, device_id=unit)
    elif point.table is Table.DISCRETE_INPUT:
        rr = await client.read_discrete_inputs(address, count=count, device_id=unit)
    elif point.table is Table.HOLDING:
        rr = await client.read_holding_registers(address, count=count, device_id=unit)
    else:
        rr = await client.read_input_registers(address, count=count, device_id=unit)
    assert not rr.isError(), (profile.id, point.metric, rr)
    registers = [int(b) for b in rr.bits[:count]] if point.table.is_bit_table else list(rr.registers)
    return to_value(profile, point, registers)
