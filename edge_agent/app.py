"""The agent: one uplink, one link per connection, one poller per device, one TaskGroup."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from citysense.agentconfig import AgentConfig
from citysense.profiles import ProfileSet
from edge_agent.control import Control
from edge_agent.drivers.modbus.link import ModbusLink
from edge_agent.drivers.modbus.poller import DevicePoller
from edge_agent.seqstate import SeqState
from edge_agent.uplink import Uplink

log = logging.getLogger(__name__)


class Agent:
    """Runs the acquisition and the uplink of one node until cancelled."""

    def __init__(self, config: AgentConfig, profiles: ProfileSet, state_dir: Path) -> None:
        self.config = config
        self.profiles = profiles
        self.uplink = Uplink(config, SeqState(state_dir / f"{config.node_id}.seq"))
        self.links = {c.id: ModbusLink(c) for c in config.connections}
        self.pollers = self._pollers(config)
        # Config pushed by the hub and remote commands (edge_agent/control.py).
        self.control = Control(config, profiles, self.links, state_dir, on_config=self._apply, probe=self._probe)
        self._tg: asyncio.TaskGroup | None = None
        self._poll_tasks: list[asyncio.Task[None]] = []

    def _pollers(self, config: AgentConfig) -> list[DevicePoller]:
        return [
            DevicePoller(
                d.id, self.profiles[d.profile], d.unit_id, self.links[d.connection], self.uplink, d.poll_interval_s
            )
            for d in config.devices
        ]

    def _start_polling(self) -> None:
        assert self._tg is not None
        node = self.config.node_id
        self._poll_tasks = [self._tg.create_task(p.run(), name=f"{node}:poll:{p.device_id}") for p in self.pollers]

    async def _apply(self, new: AgentConfig) -> None:
        """Switch to a configuration pushed by the hub: new links and pollers, same uplink."""
        for task in self._poll_tasks:
            task.cancel()
        await asyncio.gather(*self._poll_tasks, return_exceptions=True)
        for link in self.links.values():
            await link.close()
        self.links.clear()
        self.links.update({c.id: ModbusLink(c) for c in new.connections})
        self.config = self.uplink.config = new
        self.pollers = self._pollers(new)
        self._start_polling()

    async def _probe(self) -> dict[str, Any]:
        """Read every device once: metric -> [value, quality] per device."""
        out: dict[str, Any] = {}
        for p in self.pollers:
            out[p.device_id] = {r.metric: [r.value, r.quality] for r in await p.poll_once()}
        return out

    async def run(self) -> None:
        """Run until cancelled; connections are closed on the way out."""
        node = self.config.node_id
        log.info("%s: starting with %d devices", node, len(self.pollers))
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                tg.create_task(self.uplink.run(), name=f"{node}:uplink")
                tg.create_task(self.control.run(), name=f"{node}:control")
                self._start_polling()
        finally:
            self._tg = None
            for link in self.links.values():
                await link.close()
