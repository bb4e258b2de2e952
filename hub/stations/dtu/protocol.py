"""4G DTUs as a station protocol: the framer, and the session that polls the Modbus units behind a DTU.

The station's identity is its registration id (``stations.address`` in the
registry); its devices are Modbus units with device profiles, polled with
the edge agent's :class:`~edge_agent.drivers.modbus.poller.DevicePoller` and
stored through the same :class:`~hub.stations.ingest.StationIngest` as every
station's observations (validation, store or spool, alerts).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from citysense.contract import Reading
from edge_agent.drivers.modbus.poller import DevicePoller
from hub.ingest.wire import FastReading
from hub.stations.dtu.framer import DtuFramer
from hub.stations.dtu.link import DtuLink
from hub.stations.errors import StationError
from hub.stations.settings import ListenerSettings

if TYPE_CHECKING:
    from hub.stations.connection import StationConnection
    from hub.stations.server import StationGateway

log = logging.getLogger(__name__)


class _Sink:
    """The poller's reading sink: straight into the gateway's ingest for the DTU's node."""

    def __init__(self, gateway: StationGateway, conn: StationConnection, node: str) -> None:
        self.gateway, self.conn, self.node = gateway, conn, node

    async def put(self, readings: Sequence[Reading]) -> None:
        fast = [
            FastReading(device=r.device, metric=r.metric, value=r.value, unit=r.unit, ts_ms=r.ts_ms, quality=r.quality)
            for r in readings
        ]
        await self.gateway.ingest.store(self.conn.topic, self.node, fast)


class DtuProtocol:
    """Transparent-mode 4G DTUs with a registration packet and heartbeats."""

    name = "dtu"
    max_frame = 256

    def __init__(self, registration_prefix: str = "", heartbeat: str = "", timeout_s: float = 5.0) -> None:
        self.prefix, self.heartbeat = registration_prefix.encode(), heartbeat.encode()
        self.timeout_s = timeout_s
        self.inter_frame_delay_s = 0.1

    def framer(self) -> DtuFramer:
        """A fresh framer for a new connection."""
        return DtuFramer(self.prefix, self.heartbeat)

    def command(self, station: str, password: str | None, action: str, args: Mapping[str, Any]) -> bytes:
        """A DTU has no commands of its own (its units are polled)."""
        raise StationError("unknown_action", "a DTU site takes no commands; its Modbus units are polled")

    def attach(self, gateway: StationGateway, listener: ListenerSettings) -> None:
        """Take the listener's packet settings and poll every DTU once it has registered."""
        self.prefix, self.heartbeat = listener.registration_prefix.encode(), listener.heartbeat.encode()
        self.timeout_s = listener.request_timeout_s
        self.inter_frame_delay_s = listener.inter_frame_delay_s

        async def session(conn: StationConnection) -> None:
            await self.poll(gateway, conn)

        gateway.sessions[self.name] = session

    async def poll(self, gateway: StationGateway, conn: StationConnection) -> None:
        """Poll every device of the DTU's station through its connection until it closes."""
        info = conn.info
        assert info is not None
        link = DtuLink(conn.send, self.timeout_s, self.inter_frame_delay_s)
        conn.on_control = link.on_control
        profiles = gateway.ingest.pipeline.profiles
        sink = _Sink(gateway, conn, info.node)
        pollers = []
        for dev in info.devices:
            profile = profiles.get(dev.profile)
            if profile is None:
                log.warning("%s: device %s has unknown profile %s; not polled", info.node, dev.id, dev.profile)
                continue
            pollers.append(DevicePoller(dev.id, profile, dev.unit_id, link, sink, dev.poll_interval_s))
        try:
            async with asyncio.TaskGroup() as tg:
                for p in pollers:
                    tg.create_task(p.run(), name=f"dtu-poll:{info.node}.{p.device_id}")
        finally:
            gateway.stats.polls += link.answered
            gateway.stats.poll_failures += link.failed
