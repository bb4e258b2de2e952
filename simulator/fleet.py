"""Simulated nodes: one Modbus TCP server per node, answering for every unit id of its devices.

A node stands for a site's serial-to-Ethernet gateway with the node kind's
devices on its RS-485 bus. Its registers are re-rendered every ``refresh_s``
by one task per node; :class:`Fleet` runs many nodes under one TaskGroup.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Self

from pymodbus.server import ModbusTcpServer

from citysense.nodekinds import NodeKind
from citysense.profiles import ProfileSet
from citysense.quality import Quality
from simulator.device import SimulatedDevice, absent_units
from simulator.models import Value

log = logging.getLogger(__name__)

Snapshot = dict[str, dict[str, Value | None]]


class SimulatedNode:
    """The field side of one site; ``async with`` it, or ``await start()`` and ``await stop()``."""

    def __init__(
        self,
        kind: NodeKind,
        profiles: ProfileSet,
        node_id: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        refresh_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if refresh_s <= 0:
            raise ValueError("refresh_s must be positive")
        self.kind = kind
        self.node_id = node_id
        self.host = host
        self.port = port
        self.seed = seed
        self.refresh_s = refresh_s
        self._clock = clock
        self._frozen_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._tick = asyncio.Event()
        self.devices: dict[str, SimulatedDevice] = {
            d.id: SimulatedDevice(d.id, profiles[d.profile], d.unit_id, seed * 1000 + i, self.now)
            for i, d in enumerate(kind.devices)
        }

    def now(self) -> float:
        """Return the simulation time: the clock's, or the instant :meth:`freeze` stopped it at."""
        return self._frozen_at if self._frozen_at is not None else self._clock()

    @property
    def frozen(self) -> bool:
        """True while values are held still."""
        return self._frozen_at is not None

    def freeze(self, at: float | None = None) -> None:
        """Hold every value still (at ``at``, default now); client writes still take effect."""
        self._frozen_at = self.now() if at is None else at
        self.refresh()

    def thaw(self) -> None:
        """Let values change with the clock again."""
        self._frozen_at = None
        self.refresh()

    def refresh(self) -> None:
        """Render every device's registers for the current simulation time."""
        t = self.now()
        for device in self.devices.values():
            device.render(t)

    def snapshot(self) -> Snapshot:
        """Return device id -> metric -> the value a client decoding per profile reads now."""
        return {dev_id: dev.snapshot() for dev_id, dev in self.devices.items()}

    def expected(self, device_id: str, metric: str) -> Value | None:
        """Return the value a correct client reads for one point now (``None`` for a sentinel)."""
        return self.devices[device_id].served[metric][0]

    def quality(self, device_id: str, metric: str) -> Quality:
        """Return the quality a correct client gives one point now."""
        return self.devices[device_id].served[metric][1]

    def write(self, device_id: str, metric: str, value: Value) -> None:
        """Write a point as a client would, without Modbus; raises ``CodecError`` when refused."""
        self.devices[device_id].write(metric, value)

    def force_raw(self, device_id: str, metric: str, registers: Sequence[int] | None) -> None:
        """Serve fixed raw registers for one point (e.g. a 'sensor missing' sentinel); ``None`` undoes it."""
        self.devices[device_id].force_raw(metric, registers)

    async def next_refresh(self) -> None:
        """Wait until the refresh timer has fired once more (for tests and tools that follow the clock)."""
        await self._tick.wait()

    async def run(self, *, ready: asyncio.Event | None = None) -> None:
        """Listen, set ``ready`` once :attr:`port` is known, refresh until cancelled, then close."""
        units = [d.sim_device() for d in self.devices.values()]
        if all(d.unit_id != 0 for d in self.devices.values()):
            units.append(absent_units())
        server = ModbusTcpServer(units, address=(self.host, self.port))
        try:
            await server.serve_forever(background=True)
        except RuntimeError as exc:
            raise OSError(f"{self.node_id}: cannot listen on {self.host}:{self.port}") from exc
        try:
            sockets = getattr(server.transport, "sockets", None)  # an asyncio.Server once listening
            if sockets:
                self.port = int(sockets[0].getsockname()[1])
            unit_ids = ", ".join(f"{d.device_id}={d.unit_id}" for d in self.devices.values())
            log.info("%s: %s on %s:%s (unit ids %s)", self.node_id, self.kind.kind, self.host, self.port, unit_ids)
            if ready is not None:
                ready.set()
            while True:
                await asyncio.sleep(self.refresh_s)  # the refresh timer, not a synchronisation
                if not self.frozen:
                    self.refresh()
                self._tick.set()
                self._tick = asyncio.Event()
        finally:
            await server.shutdown()  # type: ignore[no-untyped-call]
            log.info("%s: stopped", self.node_id)

    async def start(self) -> None:
        """Start :meth:`run` in the background; return once listening (or raise why it could not)."""
        if self._task is not None:
            raise RuntimeError(f"{self.node_id} is already running")
        self._task = asyncio.create_task(self.run(ready=(ready := asyncio.Event())), name=f"sim:{self.node_id}")
        try:
            await _until_ready(self._task, ready)
        except BaseException:
            self._task = None
            raise

    async def stop(self) -> None:
        """Stop listening and drop client connections."""
        task, self._task = self._task, None
        if task is not None:
            await _cancel(task)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


class Fleet:
    """Several simulated nodes run under one TaskGroup; ``async with`` it or ``await run()``."""

    def __init__(self, nodes: Sequence[SimulatedNode]) -> None:
        ids = [n.node_id for n in nodes]
        if len(set(ids)) != len(ids):
            raise ValueError("node ids must be unique")
        self.nodes = list(nodes)
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def build(
        cls,
        kinds: Mapping[str, NodeKind],
        profiles: ProfileSet,
        counts: Mapping[str, int],
        *,
        host: str = "127.0.0.1",
        base_port: int = 0,
        first_seed: int = 0,
    ) -> Fleet:
        """Build ``counts[kind]`` nodes of each kind, on consecutive ports from ``base_port`` (0: free ports)."""
        nodes: list[SimulatedNode] = []
        for kind, count in counts.items():
            for i in range(1, count + 1):
                n = len(nodes)
                port = base_port + n if base_port else 0
                nodes.append(
                    SimulatedNode(kinds[kind], profiles, f"SIM-{kind}-{i}", host=host, port=port, seed=first_seed + n)
                )
        return cls(nodes)

    def __iter__(self) -> Iterator[SimulatedNode]:
        return iter(self.nodes)

    def __getitem__(self, node_id: str) -> SimulatedNode:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise KeyError(node_id)

    def freeze(self) -> None:
        """Hold every node's values still."""
        for node in self.nodes:
            node.freeze()

    def thaw(self) -> None:
        """Let every node's values change again."""
        for node in self.nodes:
            node.thaw()

    def snapshot(self) -> dict[str, Snapshot]:
        """Return node id -> device id -> metric -> served value."""
        return {n.node_id: n.snapshot() for n in self.nodes}

    async def run(self, *, ready: asyncio.Event | None = None) -> None:
        """Run every node until cancelled; set ``ready`` once all listen. One node failing stops all."""
        async with asyncio.TaskGroup() as tg:
            events = [asyncio.Event() for _ in self.nodes]
            for node, event in zip(self.nodes, events, strict=True):
                tg.create_task(node.run(ready=event), name=f"sim:{node.node_id}")
            for event in events:
                await event.wait()
            if ready is not None:
                ready.set()

    async def __aenter__(self) -> Self:
        if self._task is not None:
            raise RuntimeError("the fleet is already running")
        self._task = asyncio.create_task(self.run(ready=(ready := asyncio.Event())), name="sim:fleet")
        try:
            await _until_ready(self._task, ready)
        except BaseException:
            self._task = None
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        task, self._task = self._task, None
        if task is not None:
            await _cancel(task)


async def _until_ready(task: asyncio.Task[None], ready: asyncio.Event) -> None:
    """Wait until ``ready`` is set; if ``task`` ends first, raise its error."""
    waiter = asyncio.create_task(ready.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        raise
    finally:
        waiter.cancel()
    if not ready.is_set():
        task.result()  # raises the task's error (or CancelledError)
        raise RuntimeError(f"{task.get_name()} ended before it was ready")


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait for it; re-raise an error it ended with (but not its cancellation)."""
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled() and task.exception() is not None:
        task.result()
