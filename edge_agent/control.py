"""The agent's control channel: configuration pushed by the hub and remote commands.

A separate MQTT session (client id ``agent-<node>-ctl``, same credentials as
the uplink) subscribes to the node's own ``config`` (retained ConfigPush) and
``cmd`` topics — the broker's ACL allows nothing else. A Command is answered
on ``cmd/reply`` with the same correlation id; one that has expired is
refused, not executed. A valid ConfigPush is stored, handed to the agent
(``on_config``) and acknowledged by publishing a NodeStatus carrying the
applied ``config_version``; an invalid one is logged and the running
configuration stays.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiomqtt
from pydantic import ValidationError

from citysense import __version__
from citysense.agentconfig import AgentConfig
from citysense.contract import (
    Channel,
    Command,
    CommandReply,
    ConfigPush,
    NodeStatus,
    decode,
    encode,
    topic,
)
from citysense.errors import CodecError, ContractError
from citysense.profiles import ProfileSet
from citysense.profiles.model import Profile
from citysense.profiles.transform import to_raw
from edge_agent.drivers.modbus.link import ModbusLink
from edge_agent.errors import ModbusError

log = logging.getLogger(__name__)
RETRY_S = 2.0


def encode_write(profile: Profile, metric: str, value: Any) -> tuple[Any, int, list[int], int | None]:
    """Return ``(table, address, registers, bit)`` for writing ``value`` to ``metric``; raise on a bad value."""
    point = profile.point(metric)
    if not point.writable:
        raise CodecError(f"'{metric}' is not writable")
    if point.enum is not None and isinstance(value, str):
        by_label = {label: code for code, label in point.enum.items()}
        if value not in by_label:
            raise CodecError(f"'{value}' is not a state of '{metric}'")
        value = by_label[value]
    return point.table, profile.pdu_address(point), to_raw(profile, point, value), point.bit


class Control:
    """Receives configuration and commands for one node; runs until cancelled."""

    def __init__(
        self,
        config: AgentConfig,
        profiles: ProfileSet,
        links: Mapping[str, ModbusLink],
        state_dir: Path,
        *,
        on_config: Callable[[AgentConfig], Awaitable[None]] | None = None,
        probe: Callable[[], Awaitable[dict[str, Any]]] | None = None,
    ) -> None:
        self.config = config
        self.profiles = profiles
        self.links = links
        self.state_path = state_dir / f"{config.node_id}.config.json"
        self.on_config = on_config
        self.probe = probe
        self.commands_done = 0

    def _topic(self, channel: Channel) -> str:
        return topic(self.config.node_id, channel, self.config.hub.topic_prefix)

    async def run(self) -> None:
        """Keep the control session up, reconnecting after a pause."""
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                log.warning("%s: control channel lost (%s)", self.config.node_id, exc)
                await asyncio.sleep(RETRY_S)

    async def _session(self) -> None:
        hub = self.config.hub
        async with aiomqtt.Client(
            hub.host,
            hub.port,
            identifier=f"agent-{self.config.node_id}-ctl",
            username=hub.username,
            password=hub.password.get_secret_value() if hub.password else None,
            keepalive=hub.keepalive_s,
            timeout=hub.connect_timeout_s,
        ) as client:
            await client.subscribe(self._topic(Channel.CONFIG), qos=1)
            await client.subscribe(self._topic(Channel.COMMAND), qos=1)
            async for msg in client.messages:
                payload = bytes(msg.payload) if isinstance(msg.payload, bytes | bytearray) else b""
                if str(msg.topic) == self._topic(Channel.CONFIG):
                    await self._config(client, payload)
                else:
                    await self._command(client, payload)

    async def _config(self, client: aiomqtt.Client, payload: bytes) -> None:
        node = self.config.node_id
        try:
            push = decode(ConfigPush, payload, node)
            if push.version <= self.config.config_version:
                return  # the retained copy of what we run already
            data = {**push.config, "node_id": node, "config_version": push.version}
            data["hub"] = self.config.hub.model_dump()  # credentials and broker stay local
            data["hub"]["password"] = self.config.hub.password
            new = AgentConfig.model_validate(data)
        except ValidationError as exc:
            log.warning("%s: pushed configuration refused: %s", node, exc)
            return
        if self.on_config is not None:
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

    async def _command(self, client: aiomqtt.Client, payload: bytes) -> None:
        node = self.config.node_id
        try:
            cmd = decode(Command, payload, node)
        except ContractError as exc:
            log.warning("%s: malformed command: %s", node, exc)
            return
        ok, error, result = False, None, None
        if cmd.expires_ms < time.time_ns() // 1_000_000:
            error = "expired before it arrived"
        else:
            try:
                result = await self._execute(cmd)
                ok = True
            except (CodecError, ModbusError, KeyError) as exc:
                error = str(exc)
        reply = CommandReply(id=cmd.id, node=node, ok=ok, error=error, result=result, ts_ms=time.time_ns() // 1_000_000)
        await client.publish(self._topic(Channel.COMMAND_REPLY), encode(reply), qos=1)
        self.commands_done += 1
        log.info("%s: command %s %s: %s", node, cmd.id, cmd.action, "ok" if ok else error)

    async def _execute(self, cmd: Command) -> Any:
        if cmd.action == "ping":
            return {"agent_version": __version__, "config_version": self.config.config_version}
        if cmd.action == "probe":
            return await self.probe() if self.probe is not None else {}
        dev = next((d for d in self.config.devices if d.id == cmd.device), None)
        if dev is None or cmd.metric is None:
            raise KeyError(f"no device '{cmd.device}' or no metric")
        table, address, regs, bit = encode_write(self.profiles[dev.profile], cmd.metric, cmd.value)
        link = self.links[dev.connection]
        if bit is not None:  # a bit inside a holding register: read-modify-write
            (current,) = await link.read(table, dev.unit_id, address, 1)
            regs = [(current & ~(1 << bit)) | regs[0]]
        await link.write(table, dev.unit_id, address, regs)
        return {"written": regs}


def applied_config(state_dir: Path, node_id: str) -> dict[str, Any] | None:
    """The last configuration pushed and applied (without its hub section), if any."""
    path = state_dir / f"{node_id}.config.json"
    return json.loads(path.read_text()) if path.exists() else None
