"""The node's DL/T 645 lines and meters; address discovery and the broadcast time sync.

Time sync is the agent command ``time_sync``: the agent broadcasts its local
time (``ss mm hh DD MM YY``, 2007 §7.6 "广播校时") on every DL/T 645 line;
meters do not reply, and most accept it only within a few minutes of their own
clock and once a day (a meter's limit, not the agent's).
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from citysense.agentconfig import AgentConfig, Connection
from citysense.contract import Command, CommandReply, DeviceHealth
from citysense.dlt645 import ADDRESS_DI_1997, WILDCARD, Edition, di_bytes, read_address_request, time_sync_request
from citysense.profiles import ProfileSet
from citysense.quality import Quality
from edge_agent.control import CommandHandler
from edge_agent.drivers import ReadingSink
from edge_agent.drivers.dlt645.link import MeterLink
from edge_agent.drivers.dlt645.poller import MeterPoller
from edge_agent.errors import MeterError


class Meters:
    """Every DL/T 645 line and meter of one node configuration."""

    def __init__(self, config: AgentConfig, profiles: ProfileSet, sink: ReadingSink) -> None:
        self.links = {c.id: MeterLink(c) for c in config.connections if c.type.is_dlt645}
        self.pollers = [
            MeterPoller(m, profiles.meters[m.profile], self.links[m.connection], sink) for m in config.meters
        ]
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, tg: asyncio.TaskGroup, node: str) -> None:
        """Start polling every meter in ``tg``."""
        self._tasks = [tg.create_task(p.run(), name=f"{node}:meter:{p.device_id}") for p in self.pollers]

    async def stop(self) -> None:
        """Stop polling and close the lines."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for link in self.links.values():
            await link.close()

    def health(self) -> list[DeviceHealth]:
        """Every meter's acquisition health."""
        return [p.health() for p in self.pollers]

    async def time_sync(self, when: datetime | None = None) -> list[str]:
        """Broadcast ``when`` (default: the agent's local time) on every line; return the lines reached."""
        frame = time_sync_request(when or datetime.now().astimezone())
        done = []
        for line_id, link in self.links.items():
            await link.broadcast(frame)
            done.append(line_id)
        return done


async def read_address(conn: Connection, edition: Edition = Edition.V2007) -> str:
    """The address of the only meter on a line, asked at the wildcard address (2007 §7.4; 1997: DI C032)."""
    link = MeterLink(conn)
    try:
        echo = b"" if edition is Edition.V2007 else di_bytes(ADDRESS_DI_1997)
        reply = await link.transact(read_address_request(edition), WILDCARD, echo)
        if reply.abnormal:
            raise MeterError(
                Quality.DEVICE_EXCEPTION, f"the meter refused to give its address (error {reply.data.hex()})"
            )
        return reply.address
    finally:
        await link.close()


def with_time_sync(inner: CommandHandler, meters: Meters) -> CommandHandler:
    """A command handler that serves ``time_sync`` itself and hands other commands to ``inner``."""

    async def handle(cmd: Command) -> CommandReply:
        now = time.time_ns() // 1_000_000
        if cmd.action != "time_sync":
            return await inner(cmd)
        if cmd.expires_ms < now:
            return CommandReply(id=cmd.id, node=cmd.node, ok=False, error="expired", ts_ms=now)
        if not meters.links:
            return CommandReply(id=cmd.id, node=cmd.node, ok=False, error="no DL/T 645 line", ts_ms=now)
        try:
            lines = await meters.time_sync()
        except MeterError as exc:
            return CommandReply(id=cmd.id, node=cmd.node, ok=False, error=str(exc), ts_ms=now)
        return CommandReply(id=cmd.id, node=cmd.node, ok=True, result={"lines": lines}, ts_ms=now)

    return handle
