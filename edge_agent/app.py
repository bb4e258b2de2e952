"""The agent: one uplink, one link per connection, one poller per device, one TaskGroup."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from citysense.agentconfig import AgentConfig
from citysense.profiles import ProfileSet
from edge_agent.drivers.modbus.link import ModbusLink
from edge_agent.drivers.modbus.poller import DevicePoller
from edge_agent.seqstate import SeqState
from edge_agent.uplink import Uplink

log = logging.getLogger(__name__)


class Agent:
    """Runs the acquisition and the uplink of one node until cancelled."""

    def __init__(self, config: AgentConfig, profiles: ProfileSet, state_dir: Path) -> None:
        self.config = config
        self.uplink = Uplink(config, SeqState(state_dir / f"{config.node_id}.seq"))
        self.links = {c.id: ModbusLink(c) for c in config.connections}
        self.pollers = [
            DevicePoller(d.id, profiles[d.profile], d.unit_id, self.links[d.connection], self.uplink, d.poll_interval_s)
            for d in config.devices
        ]

    async def run(self) -> None:
        """Run until cancelled; connections are closed on the way out."""
        node = self.config.node_id
        log.info("%s: starting with %d devices", node, len(self.pollers))
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.uplink.run(), name=f"{node}:uplink")
                for p in self.pollers:
                    tg.create_task(p.run(), name=f"{node}:poll:{p.device_id}")
        finally:
            for link in self.links.values():
                await link.close()
