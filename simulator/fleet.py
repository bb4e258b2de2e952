"""Simulated nodes: one Modbus TCP server per node answering for all its devices' unit ids."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymodbus.server import ModbusTcpServer

from citysense.nodekinds import NodeKind
from citysense.profiles import ProfileSet
from simulator.device import SimulatedDevice
from simulator.models import Value

log = logging.getLogger(__name__)


class SimulatedNode:
    """The field side of one site: a serial-to-Ethernet gateway with the kind's devices behind it."""

    def __init__(
        self,
        kind: NodeKind,
        profiles: ProfileSet,
        node_id: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
    ) -> None:
        self.kind = kind
        self.node_id = node_id
        self.host = host
        self.port = port
        self._frozen_at: float | None = None
        self.devices = {
            d.id: SimulatedDevice(profiles[d.profile], d.unit_id, seed * 100 + i, self.now)
            for i, d in enumerate(kind.devices)
        }
        self._server: Any = None

    def now(self) -> float:
        """The simulation clock: wall time, or the instant :meth:`freeze` stopped it."""
        return self._frozen_at if self._frozen_at is not None else time.time()

    def freeze(self) -> None:
        """Stop every value from changing (writes still apply)."""
        self._frozen_at = self.now()

    def thaw(self) -> None:
        """Let values change again."""
        self._frozen_at = None

    def snapshot(self) -> dict[str, dict[str, Value | None]]:
        """Device id -> metric -> the value a correct client decodes now."""
        return {dev_id: dev.snapshot() for dev_id, dev in self.devices.items()}

    async def start(self) -> None:
        """Listen on ``host:port`` (port 0 picks a free one, then :attr:`port` tells it)."""
        logging.getLogger("pymodbus").setLevel(logging.WARNING)
        units = [dev.sim_device() for dev in self.devices.values()]
        self._server = ModbusTcpServer(units, address=(self.host, self.port))
        await self._server.serve_forever(background=True)
        self.port = self._server.transport.sockets[0].getsockname()[1]
        log.info("%s: simulated %s on %s:%s", self.node_id, self.kind.kind, self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and drop client connections."""
        if self._server is not None:
            await self._server.shutdown()
            self._server = None


@asynccontextmanager
async def running(nodes: list[SimulatedNode]) -> AsyncIterator[list[SimulatedNode]]:
    """Start ``nodes``; stop them all on exit."""
    started: list[SimulatedNode] = []
    try:
        for node in nodes:
            await node.start()
            started.append(node)
        yield started
    finally:
        await asyncio.gather(*(n.stop() for n in started), return_exceptions=True)
