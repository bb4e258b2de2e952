"""Uplink: move readings from the durable buffer to the hub's broker, losing none.

``put`` writes readings into the :class:`DurableBuffer` (SQLite, WAL) and
returns; nothing is held only in memory. While connected, two lanes publish
concurrently:

* **live**: readings that arrived during this session are formed into a batch
  when ``batch_max_readings`` are waiting or the first has waited
  ``batch_max_wait_s``, and published at once;
* **backlog**: batches left unacknowledged by an earlier session or process,
  then readings buffered while the link was down, published at most
  ``drain_batches_per_s`` per second so that a long outage does not flood the
  4G link and the hub, while live data keeps flowing.

A batch is published at QoS 1 and deleted from the buffer only after PUBACK
(MQTT 3.1.1 §4.3.2). Its ``seq`` is fixed when it is formed, so a re-sent
batch is byte-identical and the hub drops the copy.

On connect the agent publishes a retained birth (``online``: agent version,
config version, devices and their points) and leaves a retained death
(``offline``) as its last will (MQTT 3.1.1 §3.1.2.5). Every
``status_interval_s`` it republishes ``online`` with ``health`` (self-telemetry:
buffer depth, oldest age, drops, and each device's RTT, counts, last good read).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence

import aiomqtt
from aiomqtt.exceptions import MqttConnectError

from citysense import __version__
from citysense.agentconfig import AgentConfig
from citysense.brokerids import uplink_client_id
from citysense.contract import (
    AgentHealth,
    Channel,
    Command,
    CommandReply,
    DeviceHealth,
    DeviceInfo,
    NodeStatus,
    Reading,
    decode,
    encode,
    topic,
)
from citysense.errors import ContractError
from edge_agent.buffer import Batch, DurableBuffer
from edge_agent.hubclient import hub_client
from edge_agent.reconnect import ReconnectPolicy, is_auth_failure

log = logging.getLogger(__name__)

EXPIRE_EVERY_S = 60.0
HealthSource = Callable[[], list[DeviceHealth]]


class Uplink:
    """The node's one MQTT session to the hub, fed from the durable buffer."""

    def __init__(
        self,
        config: AgentConfig,
        buffer: DurableBuffer,
        *,
        points: dict[str, list[str]] | None = None,
        health: HealthSource | None = None,
        malformed: Callable[[], dict[str, int]] | None = None,
        commands: Callable[[Command], Awaitable[CommandReply]] | None = None,
    ) -> None:
        up = config.uplink
        self.config = config
        self.buffer = buffer
        self.points = points or {}
        self.health_source = health
        self.malformed_source = malformed
        self.commands = commands
        self.policy = ReconnectPolicy(min_s=up.backoff_min_s, max_s=up.backoff_max_s, auth_s=up.auth_backoff_s)
        self.published_batches = 0
        self.connected = asyncio.Event()
        self._arrived = asyncio.Event()
        self._expired_at = time.monotonic()

    async def put(self, readings: Sequence[Reading]) -> None:
        """Write readings to the durable buffer; they are safe once this returns."""
        self.buffer.put(readings)
        self._arrived.set()
        now = time.monotonic()
        if now - self._expired_at > EXPIRE_EVERY_S:  # the age cap must hold while the link is down, too
            self._expired_at = now
            self.buffer.expire()

    # --- status ------------------------------------------------------------------------------------------------
    def health(self) -> AgentHealth:
        """The agent's self-telemetry now."""
        return AgentHealth(
            queue_depth=self.buffer.depth(),
            queue_oldest_s=round(self.buffer.oldest_age_s(), 3),
            queue_bytes=self.buffer.stored_bytes,
            dropped=self.buffer.dropped,
            malformed=self.malformed_source() if self.malformed_source else {},
            devices=self.health_source() if self.health_source else [],
        )

    def _status(self, state: str, session: str, *, with_health: bool = False) -> bytes:
        # The will is registered in CONNECT, whose will payload is limited to 65,535 bytes (MQTT 3.1.1 §3.1.3.3):
        # only the birth lists the devices and their points.
        devices = [
            DeviceInfo(device=d.id, profile=d.profile, points=self.points.get(d.id, [])) for d in self.config.devices
        ]
        if state != "online":
            devices = []
        msg = NodeStatus(
            node=self.config.node_id,
            state="online" if state == "online" else "offline",
            session=session,
            ts_ms=time.time_ns() // 1_000_000,
            agent_version=__version__,
            config_version=self.config.config_version,
            devices=devices,
            health=self.health() if with_health else None,
        )
        return encode(msg)

    # --- session -----------------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect and publish; reconnect forever per the :class:`ReconnectPolicy`."""
        node = self.config.node_id
        while True:
            self.policy.attempting()
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                auth = isinstance(exc, MqttConnectError) and is_auth_failure(exc.rc)
                first = self.policy.failures == 0
                delay = self.policy.failed(auth=auth)
                if auth:
                    log.error(  # noqa: TRY400 - the traceback says nothing more
                        "%s: broker refused our credentials (%s); retrying in %.0f s", node, exc, delay
                    )
                elif first:
                    log.warning("%s: uplink lost (%s); buffering, retrying in %.1f s", node, exc, delay)
                else:
                    log.debug(
                        "%s: uplink still down (%s, attempt %d); retry in %.1f s",
                        node,
                        exc,
                        self.policy.failures,
                        delay,
                    )
                await asyncio.sleep(delay)

    async def _session(self) -> None:
        hub = self.config.hub
        node = self.config.node_id
        session = secrets.token_hex(8)
        status_topic = topic(node, Channel.STATUS, hub.topic_prefix)
        will = aiomqtt.Will(status_topic, self._status("offline", session), qos=1, retain=True)
        async with hub_client(hub, hub.client_id or uplink_client_id(node), will) as client:
            await client.publish(
                status_topic, self._status("online", session), qos=1, retain=True, timeout=hub.connect_timeout_s
            )
            self.policy.connected()
            self.connected.set()
            # Readings from here on are live; everything older is backlog.
            live_from = self.buffer.last_id + 1
            backlog = self.buffer.unacked()
            log.info(
                "%s: connected to %s:%s; backlog %d batches + readings below id %d",
                node, hub.host, hub.port, len(backlog), live_from,
            )  # fmt: skip
            try:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._live(client, live_from), name=f"{node}:uplink:live")
                    tg.create_task(self._drain(client, backlog, live_from), name=f"{node}:uplink:drain")
                    tg.create_task(self._heartbeat(client, status_topic, session), name=f"{node}:uplink:status")
                    if self.commands is not None:
                        tg.create_task(self._serve_commands(client), name=f"{node}:uplink:cmd")
            except ExceptionGroup as group:
                # A lost link fails every lane at once; surface it as the one MqttError run() retries on.
                lost, other = group.split(aiomqtt.MqttError)
                if lost is None or other is not None:
                    raise
                raise _first(lost) from group

    async def _publish(self, client: aiomqtt.Client, batch: Batch) -> None:
        hub = self.config.hub
        # aiomqtt's publish returns once the PUBACK arrived (QoS 1); only then is the batch forgotten.
        await client.publish(topic(self.config.node_id, Channel.TELEMETRY, hub.topic_prefix), batch.payload, qos=1,
                             timeout=hub.connect_timeout_s)  # fmt: skip
        self.buffer.ack(batch.seq)
        self.published_batches += 1

    async def _live(self, client: aiomqtt.Client, live_from: int) -> None:
        up = self.config.uplink
        next_id = live_from
        while True:
            while self.buffer.last_id < next_id:
                self._arrived.clear()
                await self._arrived.wait()
            try:
                async with asyncio.timeout(up.batch_max_wait_s):
                    while self.buffer.last_id - next_id + 1 < up.batch_max_readings:
                        self._arrived.clear()
                        await self._arrived.wait()
            except TimeoutError:
                pass
            batch = self.buffer.form(up.batch_max_readings, from_id=next_id)
            if batch is None:  # the caps dropped them meanwhile
                next_id = self.buffer.last_id + 1
                continue
            next_id = batch.last_id + 1
            await self._publish(client, batch)

    async def _drain(self, client: aiomqtt.Client, backlog: list[Batch], live_from: int) -> None:
        up = self.config.uplink
        pause = 1.0 / up.drain_batches_per_s
        sent = 0
        for old in backlog:
            await self._publish(client, old)
            sent += 1
            await asyncio.sleep(pause)
        while (batch := self.buffer.form(up.batch_max_readings, below_id=live_from)) is not None:
            await self._publish(client, batch)
            sent += 1
            await asyncio.sleep(pause)
        if sent:
            log.info("%s: backlog drained (%d batches)", self.config.node_id, sent)

    async def _serve_commands(self, client: aiomqtt.Client) -> None:
        hub, node = self.config.hub, self.config.node_id
        assert self.commands is not None
        reply_topic = topic(node, Channel.COMMAND_REPLY, hub.topic_prefix)
        await client.subscribe(topic(node, Channel.COMMAND, hub.topic_prefix), qos=1, timeout=hub.connect_timeout_s)
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            try:
                cmd = decode(Command, payload, node)
            except ContractError as exc:
                log.warning("%s: command refused (%s: %s)", node, exc.reason, exc.detail)
                continue
            reply = await self.commands(cmd)
            await client.publish(reply_topic, encode(reply), qos=1, timeout=hub.connect_timeout_s)

    async def _heartbeat(self, client: aiomqtt.Client, status_topic: str, session: str) -> None:
        hub, up = self.config.hub, self.config.uplink
        while True:
            await asyncio.sleep(up.status_interval_s)
            self.buffer.expire()
            payload = self._status("online", session, with_health=True)
            await client.publish(status_topic, payload, qos=1, retain=True, timeout=hub.connect_timeout_s)


def _first(group: BaseExceptionGroup[aiomqtt.MqttError]) -> aiomqtt.MqttError:
    exc = group.exceptions[0]
    return _first(exc) if isinstance(exc, BaseExceptionGroup) else exc
