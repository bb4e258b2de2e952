"""Send commands and configuration to nodes over MQTT and wait for the replies.

The hub's command account is bound to one client id (hub/broker/dynsec.py), so
every command shares one session: :meth:`CommandCenter.run` (a named task of
the hub's TaskGroup) keeps it connected, subscribed to every node's
``cmd/reply``, and hands each reply to the request waiting for its
correlation id. :meth:`CommandCenter.send` publishes a Command and waits for
that reply until ``timeout_s``; configuration is published retained, so a
node that is offline gets it on its next connection. A reply that cannot be
read (or whose handling raises) is dead-lettered with its reason and skipped;
the wait for the real reply goes on.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from typing import Any

import aiomqtt

from citysense.contract import Channel, Command, CommandReply, ConfigPush, decode, encode, topic
from citysense.errors import ContractError
from hub.errors import BrokerError
from hub.ingest.deadletters import DeadLetterSink
from hub.ingest.logsafe import safe

log = logging.getLogger(__name__)
BACKOFF_MAX_S = 30.0


class CommandTimeout(BrokerError):
    """The node did not answer in time (it may still execute the command until it expires)."""


class CommandCenter:
    """Publishes to nodes with the hub's command account, over one session."""

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
        failover: Sequence[tuple[str, int]] = (),
    ) -> None:
        self.username, self.password = username, password
        self.endpoints = [(host, port), *failover]  # a clustered broker's members, tried in turn
        self.connected_to: tuple[str, int] | None = None  # the member the session is on now
        self.dead = dead
        self.prefix = prefix
        self.client_id = client_id
        self._client: aiomqtt.Client | None = None
        self._ready = asyncio.Event()
        self._waiting: dict[str, tuple[str, asyncio.Future[CommandReply]]] = {}

    async def run(self) -> None:
        """Keep the command session up, reconnecting with full-jitter back-off."""
        attempt = 0
        lost = False  # logged once when the session is lost, once when it is back (not once per attempt)
        while True:
            host, port = self.endpoints[attempt % len(self.endpoints)]
            try:
                async with aiomqtt.Client(
                    host,
                    port,
                    username=self.username,
                    password=self.password,
                    identifier=self.client_id,
                    timeout=10,
                ) as client:
                    await client.subscribe(f"{self.prefix}/+/{Channel.COMMAND_REPLY.value}", qos=1)
                    self._client, self.connected_to = client, (host, port)
                    self._ready.set()
                    attempt = 0
                    if lost:
                        log.info("hub: command session back")
                    lost = False
                    async for msg in client.messages:
                        await self._dispatch(str(msg.topic), msg.payload)
            except aiomqtt.MqttError as exc:
                if not lost:
                    log.warning("hub: command session lost (%s); reconnecting", exc)
                lost = True
            finally:
                self._ready.clear()
                self._client = self.connected_to = None
            await asyncio.sleep(random.uniform(0, min(BACKOFF_MAX_S, 0.5 * 2**attempt)))
            attempt += 1

    async def _dispatch(self, msg_topic: str, payload: Any) -> None:
        for cmd_id, (reply_topic, fut) in list(self._waiting.items()):
            if msg_topic != reply_topic or fut.done():
                continue
            node = reply_topic.removeprefix(f"{self.prefix}/").split("/", 1)[0]
            data = bytes(payload) if isinstance(payload, bytes | bytearray) else b""
            reply = await self._reply(reply_topic, node, data)
            if reply is not None and reply.id == cmd_id:
                fut.set_result(reply)
                return

    async def _reply(self, reply_topic: str, node: str, payload: bytes) -> CommandReply | None:
        """The reply in ``payload``, or ``None`` once a malformed one is dead-lettered (never raises on input)."""
        try:
            return decode(CommandReply, payload, node)
        except ContractError as exc:
            reason, detail = exc.reason, exc.detail
        except Exception as exc:  # a bug its content meets must not end the session or the wait for the real reply
            log.exception("%s: reading a command reply raised", node)
            reason, detail = "internal_error", f"{type(exc).__name__}: {exc}"
        if self.dead is not None:
            try:
                await self.dead.add(reply_topic, node, reason, detail, payload)
            except Exception:  # the registry database away: counted and logged, the command session goes on
                log.warning("%s: a malformed command reply (%s) could not be kept as a dead letter", node, reason)
        else:
            log.warning("%s: malformed command reply (%s): %s", node, reason, safe(detail))
        return None

    async def _session(self) -> aiomqtt.Client:
        await self._ready.wait()
        if self._client is None:  # pragma: no cover - _ready is set only with a client
            raise BrokerError("command session not connected")
        return self._client

    async def send(self, cmd: Command, timeout_s: float) -> CommandReply:
        """Publish ``cmd`` and return the node's reply; raise :class:`CommandTimeout` after ``timeout_s``."""
        fut: asyncio.Future[CommandReply] = asyncio.get_running_loop().create_future()
        self._waiting[cmd.id] = (topic(cmd.node, Channel.COMMAND_REPLY, self.prefix), fut)
        try:
            async with asyncio.timeout(timeout_s):
                client = await self._session()
                await client.publish(topic(cmd.node, Channel.COMMAND, self.prefix), encode(cmd), qos=1)
                return await fut
        except TimeoutError as exc:
            if not self._ready.is_set():
                raise BrokerError(f"no session with the broker for {timeout_s} s") from exc
            raise CommandTimeout(f"node {cmd.node} did not answer command {cmd.id} in {timeout_s} s") from exc
        except aiomqtt.MqttError as exc:
            raise BrokerError(f"cannot reach the broker: {exc}") from exc
        finally:
            self._waiting.pop(cmd.id, None)

    async def push_config(self, node: str, version: int, config: dict[str, Any], timeout_s: float = 10) -> None:
        """Publish the node's desired configuration, retained."""
        push = ConfigPush(node=node, version=version, config=config)
        try:
            async with asyncio.timeout(timeout_s):
                client = await self._session()
                await client.publish(topic(node, Channel.CONFIG, self.prefix), encode(push), qos=1, retain=True)
        except (TimeoutError, aiomqtt.MqttError) as exc:
            raise BrokerError(f"cannot publish configuration of {node}: {exc}") from exc
