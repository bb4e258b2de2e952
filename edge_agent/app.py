"""The agent: one durable buffer + uplink, one link per connection, one poller per device, one TaskGroup."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from citysense.agentconfig import AgentConfig
from citysense.contract import DeviceHealth
from citysense.profiles import ProfileSet
from citysense.runner import cancel_and_wait
from edge_agent.buffer import DurableBuffer
from edge_agent.commands import CommandServer
from edge_agent.config import device_profile, mqtt_sources
from edge_agent.control import CommandHandler, Control, probe_pollers, with_probe
from edge_agent.drivers.dlt645.meters import Meters, with_time_sync
from edge_agent.drivers.modbus.link import ModbusLink
from edge_agent.drivers.modbus.poller import DevicePoller
from edge_agent.drivers.mqtt.source import MqttSensorSource
from edge_agent.uplink import Uplink

log = logging.getLogger(__name__)


def open_buffer(config: AgentConfig, state_dir: Path) -> DurableBuffer:
    """Open (or create) the node's durable buffer under ``state_dir``."""
    up = config.uplink
    first_seq: int | None = None
    legacy = state_dir / f"{config.node_id}.seq"  # the counter file of agents before the durable buffer
    if legacy.exists():
        first_seq = int(legacy.read_text().strip() or 0)
    return DurableBuffer(
        state_dir / f"{config.node_id}.buffer.sqlite",
        config.node_id,
        max_bytes=int(up.buffer_max_mb * 1024 * 1024),
        max_age_s=up.buffer_max_age_s,
        durability=up.durability,
        first_seq=first_seq,
        max_batch_bytes=up.batch_max_bytes,
    )


class Agent:
    """Runs the acquisition and the uplink of one node until cancelled."""

    def __init__(
        self, config: AgentConfig, profiles: ProfileSet, state_dir: Path, config_path: Path | None = None
    ) -> None:
        self.config = config
        self.buffer = open_buffer(config, state_dir)
        points = {d.id: [p.metric for p in profiles[d.profile].points] for d in config.devices}
        points |= {m.id: [p.metric for p in profiles.meters[m.profile].points] for m in config.meters}
        self.uplink = Uplink(config, self.buffer, points=points, health=self.device_health)
        self.profiles = profiles
        self.links = {c.id: ModbusLink(c) for c in config.connections if not c.type.is_dlt645}
        self.pollers = self._make_pollers(config)
        self.meters = Meters(config, profiles, self.uplink)

        self.mqtt = [
            MqttSensorSource(src, maps, self.uplink)
            for src, maps in mqtt_sources(config, config_path or Path("agent.yaml"))
        ]
        self.uplink.malformed_source = self.malformed
        self.uplink.commands = self._commands()
        # Configuration pushed by the hub (edge_agent/control.py); _apply_config swaps links and pollers.
        self.control = Control(config, state_dir, on_config=self._apply_config)
        self._tg: asyncio.TaskGroup | None = None
        self._poll_tasks: list[asyncio.Task[None]] = []

    def _make_pollers(self, config: AgentConfig) -> list[DevicePoller]:
        return [
            DevicePoller(
                d.id, device_profile(self.profiles[d.profile], d), d.unit_id, self.links[d.connection], self.uplink,
                d.poll_interval_s,
            )
            for d in config.devices
        ]  # fmt: skip

    def _commands(self) -> CommandHandler:
        server = CommandServer(self.config.node_id, {p.device_id: p for p in self.pollers})
        return with_time_sync(with_probe(server, lambda: probe_pollers(self.pollers)), self.meters)

    def _start_polling(self) -> None:
        assert self._tg is not None
        node = self.config.node_id
        self._poll_tasks = [self._tg.create_task(p.run(), name=f"{node}:poll:{p.device_id}") for p in self.pollers]
        self.meters.start(self._tg, node)

    async def _apply_config(self, new: AgentConfig) -> None:
        """Switch to a configuration pushed by the hub: new links and pollers; same buffer and uplink."""
        await cancel_and_wait(self._poll_tasks)  # a read's wait_for can swallow one cancel (citysense/runner.py)
        for link in self.links.values():
            await link.close()
        await self.meters.stop()
        self.links = {c.id: ModbusLink(c) for c in new.connections if not c.type.is_dlt645}
        self.config = self.uplink.config = new
        self.pollers = self._make_pollers(new)
        self.meters = Meters(new, self.profiles, self.uplink)
        self.uplink.commands = self._commands()
        self._start_polling()

    def malformed(self) -> dict[str, int]:
        """Malformed MQTT sensor payloads, by reason, over all sources."""
        total: dict[str, int] = {}
        for src in self.mqtt:
            for reason, n in src.malformed.items():
                total[reason] = total.get(reason, 0) + n
        return total

    def device_health(self) -> list[DeviceHealth]:
        """Every device's acquisition health, for the status message."""
        mqtt = [h for m in self.mqtt for h in m.health()]
        return [p.health() for p in self.pollers] + self.meters.health() + mqtt

    async def run(self) -> None:
        """Run until cancelled; connections and the buffer are closed on the way out."""
        node = self.config.node_id
        log.info("%s: starting with %d devices", node, len(self.pollers))
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                tg.create_task(self.uplink.run(), name=f"{node}:uplink")
                tg.create_task(self.control.run(), name=f"{node}:control")
                self._start_polling()
                for m in self.mqtt:
                    tg.create_task(m.run(), name=f"{node}:mqtt:{m.source.id}")
        finally:
            # All at once: a link still finishing a read holds its lock up to its timeout.
            await asyncio.gather(*(link.close() for link in self.links.values()), return_exceptions=True)
            await self.meters.stop()
            self.uplink.commits.flush()  # readings queued for the last commit
            self.buffer.close()
