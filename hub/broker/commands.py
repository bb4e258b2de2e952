"""Send commands and configuration to nodes over MQTT and wait for the replies.

Each command opens a short session with the hub's own account (allowed to
publish ``+/cmd`` and ``+/config`` and read everything under the prefix),
subscribes to the node's ``cmd/reply`` first, then publishes the Command and
waits for the reply with the same correlation id until ``timeout_s``.
Configuration is published retained, so a node that is offline gets it on
its next connection. A reply that cannot be read (or whose handling raises)
is dead-lettered with its reason and skipped; the wait goes on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiomqtt

from citysense.contract import Channel, Command, CommandReply, ConfigPush, decode, encode, topic
from citysense.errors import ContractError
from hub.errors import BrokerError
from hub.ingest.deadletters import DeadLetterSink
from hub.ingest.logsafe import safe

log = logging.getLogger(__name__)


class CommandTimeout(BrokerError):
    """The node did not answer in time (it may still execute the command until it expires)."""


class CommandCenter:
    """Publishes to nodes with the hub's MQTT account."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None,
        password: str | None,
        prefix: str,
        client_id: str,
        dead: DeadLetterSink | None = None,
    ) -> None:
        self.host, self.port, self.username, self.password = host, port, username, password
        self.dead = dead
        self.prefix = prefix
        self.client_id = client_id

    def _client(self, suffix: str) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.host,
            self.port,
            username=self.username,
            password=self.password,
            identifier=f"{self.client_id}-{suffix}",
        )

    async def send(self, cmd: Command, timeout_s: float) -> CommandReply:
        """Publish ``cmd`` and return the node's reply; raise :class:`CommandTimeout` after ``timeout_s``."""
        reply_topic = topic(cmd.node, Channel.COMMAND_REPLY, self.prefix)
        try:
            async with asyncio.timeout(timeout_s), self._client(f"cmd-{cmd.id}") as client:
                await client.subscribe(reply_topic, qos=1)
                await client.publish(topic(cmd.node, Channel.COMMAND, self.prefix), encode(cmd), qos=1)
                async for msg in client.messages:
                    if str(msg.topic) != reply_topic:  # amqtt (the demo broker) also hands out retained strays
                        continue
                    payload = msg.payload if isinstance(msg.payload, bytes) else str(msg.payload).encode()
                    reply = await self._reply(reply_topic, cmd.node, payload)
                    if reply is not None and reply.id == cmd.id:
                        return reply
        except TimeoutError as exc:
            raise CommandTimeout(f"node {cmd.node} did not answer command {cmd.id} in {timeout_s} s") from exc
        except aiomqtt.MqttError as exc:
            raise BrokerError(f"cannot reach the broker: {exc}") from exc
        raise CommandTimeout(f"node {cmd.node}: reply stream ended")

    async def _reply(self, reply_topic: str, node: str, payload: bytes) -> CommandReply | None:
        """The reply in ``payload``, or ``None`` once a malformed one is dead-lettered (never raises on input)."""
        try:
            return decode(CommandReply, payload, node)
        except ContractError as exc:
            reason, detail = exc.reason, exc.detail
        except Exception as exc:  # a bug its content meets must not end the wait for the real reply
            log.exception("%s: reading a command reply raised", node)
            reason, detail = "internal_error", f"{type(exc).__name__}: {exc}"
        if self.dead is not None:
            await self.dead.add(reply_topic, node, reason, detail, payload)
        else:
            log.warning("%s: malformed command reply (%s): %s", node, reason, safe(detail))
        return None

    async def push_config(self, node: str, version: int, config: dict[str, Any], timeout_s: float = 10) -> None:
        """Publish the node's desired configuration, retained."""
        push = ConfigPush(node=node, version=version, config=config)
        try:
            async with asyncio.timeout(timeout_s), self._client(f"cfg-{node}") as client:
                await client.publish(topic(node, Channel.CONFIG, self.prefix), encode(push), qos=1, retain=True)
        except (TimeoutError, aiomqtt.MqttError) as exc:
            raise BrokerError(f"cannot publish configuration of {node}: {exc}") from exc
