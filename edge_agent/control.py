"""Configuration pushed by the hub, and the remote probe.

Commands (write, ping) are served on the uplink's session by
:mod:`edge_agent.commands`; this module adds:

* :class:`Control` — a second MQTT session (account ``<node>:ctl`` with the
  uplink's password, client id ``agent-<node>:ctl``: citysense/brokerids.py)
  subscribed to the node's own retained ``config`` topic
  (the broker's ACL allows nothing else). A newer, valid ConfigPush is
  stored, handed to the agent (``on_config``) and acknowledged by a
  NodeStatus carrying the applied ``config_version``; an invalid one is
  logged and the running configuration stays.
* :func:`with_probe` — answers the ``probe`` command (read every device once)
  and passes every other command on.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiomqtt
from pydantic import ValidationError

from citysense import __version__
from citysense.agentconfig import AgentConfig
from citysense.brokerids import control_client_id
from citysense.contract import Channel, Command, CommandReply, ConfigPush, NodeStatus, decode, encode, topic
from citysense.errors import ContractError
from edge_agent.drivers.modbus.poller import DevicePoller
from edge_agent.hubclient import hub_client
from edge_agent.reconnect import ReconnectPolicy, keep_session, note_connected

log = logging.getLogger(__name__)
CommandHandler = Callable[[Command], Awaitable[CommandReply]]


async def probe_pollers(pollers: Sequence[DevicePoller]) -> dict[str, Any]:
    """Read every device once: device -> metric -> [value, quality]."""
    out: dict[str, Any] = {}
    for p in pollers:
        out[p.device_id] = {r.metric: [r.value, r.quality] for r in await p.poll_once()}
    return out


def with_probe(inner: CommandHandler | None, probe: Callable[[], Awaitable[dict[str, Any]]]) -> CommandHandler:
    """Return a command handler that runs ``probe`` itself and hands other commands to ``inner``."""

    async def handle(cmd: Command) -> CommandReply:
        now = time.time_ns() // 1_000_000
        if cmd.action == "probe":
            if cmd.expires_ms < now:
                return CommandReply(id=cmd.id, node=cmd.node, ok=False, error="expired", ts_ms=now)
            result = await probe()
            return CommandReply(id=cmd.id, node=cmd.node, ok=True, result=result, ts_ms=time.time_ns() // 1_000_000)
        if inner is None:
            return CommandReply(id=cmd.id, node=cmd.node, ok=False, error="commands are not served", ts_ms=now)
        return await inner(cmd)

    return handle


class Control:
    """Receives the node's pushed configuration; runs until cancelled."""

    def __init__(
        self, config: AgentConfig, state_dir: Path, *, on_config: Callable[[AgentConfig], Awaitable[None]]
    ) -> None:
        self.config = config
        self.state_path = state_dir / f"{config.node_id}.config.json"
        self.on_config = on_config

    def _topic(self, channel: Channel) -> str:
        return topic(self.config.node_id, channel, self.config.hub.topic_prefix)

    async def run(self) -> None:
        """Keep the control session up, reconnecting with the uplink's jittered back-off (edge_agent/reconnect.py)."""
        up = self.config.uplink
        policy = ReconnectPolicy(min_s=up.backoff_min_s, max_s=up.backoff_max_s, auth_s=up.auth_backoff_s)
        await keep_session(f"{self.config.node_id}: control channel", self._session, policy)

    async def _session(self, policy: ReconnectPolicy) -> None:
        hub = self.config.hub
        client_id = hub.control_client_id or control_client_id(self.config.node_id)
        attempt = policy.failures
        async with hub_client(hub, client_id, username=hub.control_username, attempt=attempt) as client:
            await client.subscribe(self._topic(Channel.CONFIG), qos=1, timeout=hub.connect_timeout_s)
            note_connected(f"{self.config.node_id}: control channel", policy)
            async for msg in client.messages:
                if str(msg.topic) != self._topic(Channel.CONFIG):  # amqtt (the demo broker) hands out strays
                    continue
                payload = bytes(msg.payload) if isinstance(msg.payload, bytes | bytearray) else b""
                await self._config(client, payload)

    async def _config(self, client: aiomqtt.Client, payload: bytes) -> None:
        node = self.config.node_id
        try:
            push = decode(ConfigPush, payload, node)
            if push.version <= self.config.config_version:
                return  # the retained copy of what we run already
            data = {**push.config, "node_id": node, "config_version": push.version}
            data["hub"] = {**self.config.hub.model_dump(), "password": self.config.hub.password}  # stays local
            new = AgentConfig.model_validate(data)
        except (ContractError, ValidationError) as exc:
            log.warning("%s: pushed configuration refused: %s", node, exc)
            return
        await self.on_config(new)
        self.config = new
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(new.model_dump_json(exclude={"hub"}, indent=1))
        log.info("%s: configuration v%d applied", node, new.config_version)
        status = NodeStatus(
            node=node,
            state="online",
            session=secrets.token_hex(8),
            ts_ms=time.time_ns() // 1_000_000,
            agent_version=__version__,
            config_version=new.config_version,
        )
        await client.publish(self._topic(Channel.STATUS), encode(status), qos=1, retain=True)
