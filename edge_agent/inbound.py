"""What the hub sends an agent on its uplink session: acknowledgments and commands.

One task reads the session's messages (aiomqtt has one stream per client):
an acknowledgment (:class:`~citysense.contract.IngestAck`) is applied at once,
so a command that takes seconds never holds it up; a command is queued for
the task that executes them one at a time and publishes each reply. A
malformed message is logged and skipped: nothing the broker delivers ends the
session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiomqtt

from citysense.agentconfig import HubLink
from citysense.contract import Channel, Command, CommandReply, IngestAck, decode, encode, topic
from citysense.errors import ContractError
from edge_agent.ackwindow import AckWindow

log = logging.getLogger(__name__)


async def receive(
    client: aiomqtt.Client, node: str, prefix: str, acks: AckWindow, commands: asyncio.Queue[bytes]
) -> None:
    """Route what the broker delivers: acknowledgments applied at once, commands queued for their task."""
    ack_topic = topic(node, Channel.ACK, prefix)
    async for message in client.messages:
        payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
        if message.topic.value == ack_topic:
            try:
                acks.acked(decode(IngestAck, payload, node))
            except ContractError as exc:
                log.warning("%s: acknowledgment refused (%s: %s)", node, exc.reason, exc.detail)
            continue
        try:
            commands.put_nowait(payload)
        except asyncio.QueueFull:
            log.warning("%s: %d commands waiting; one refused", node, commands.qsize())


async def serve_commands(
    client: aiomqtt.Client,
    node: str,
    hub: HubLink,
    handler: Callable[[Command], Awaitable[CommandReply]],
    commands: asyncio.Queue[bytes],
) -> None:
    """Execute queued commands one at a time and publish each reply."""
    reply_topic = topic(node, Channel.COMMAND_REPLY, hub.topic_prefix)
    while True:
        payload = await commands.get()
        try:
            cmd = decode(Command, payload, node)
        except ContractError as exc:
            log.warning("%s: command refused (%s: %s)", node, exc.reason, exc.detail)
            continue
        reply = await handler(cmd)
        await client.publish(reply_topic, encode(reply), qos=1, timeout=hub.connect_timeout_s)
