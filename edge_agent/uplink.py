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

A batch is published at QoS 1; the broker's PUBACK (MQTT 3.1.1 §4.3.2) is
flow control only. The batch is deleted from the buffer when the hub
acknowledges it durable on the node's ``ack`` topic (retained, so it also
arrives on connect); until then it counts against the ack window and is
re-sent after a reconnect or a timeout (:mod:`edge_agent.ackwindow`). Its
``seq`` is fixed when it is formed, so a re-sent batch is byte-identical and
the hub drops the copy.

On connect the agent publishes a retained birth (``online``: agent version,
config version, devices and their points) and leaves a retained death
(``offline``) as its last will (MQTT 3.1.1 §3.1.2.5). Every
``status_interval_s`` it republishes ``online`` with ``health`` (self-telemetry:
buffer depth, oldest age, drops, epoch, last acknowledged seq, unacknowledged
batches and the oldest one's age, and each device's RTT, counts, last good read).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sqlite3
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
    encode,
    topic,
)
from edge_agent import inbound
from edge_agent.ackwindow import AckWindow
from edge_agent.buffer import Batch, DurableBuffer
from edge_agent.groupcommit import GroupCommit
from edge_agent.heldwrites import HeldWrites
from edge_agent.hubclient import hub_client
from edge_agent.reconnect import ReconnectPolicy, is_auth_failure

log = logging.getLogger(__name__)

EXPIRE_EVERY_S = 60.0
COMMANDS_WAITING_MAX = 64  # commands received and not yet answered; more are refused (logged)
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
        self.acks = AckWindow(buffer, window=up.ack_window_batches, timeout_s=up.ack_timeout_s)
        self.ack_refused = False  # the broker refused our ack subscription: forget at PUBACK (see _refused_acks)
        self.connected = asyncio.Event()
        self._arrived = asyncio.Event()
        self._expired_at = time.monotonic()
        self.writes = HeldWrites(buffer.put_many, config.node_id)  # a full disk: held in memory meanwhile
        self.commits = GroupCommit(self.writes)

    async def put(self, readings: Sequence[Reading]) -> None:
        """Write readings to the durable buffer; they are safe once this returns (commits are grouped).

        While the buffer cannot write (its disk full) they are held in memory (edge_agent/heldwrites.py).
        """
        await self.commits.put(readings)
        self._arrived.set()
        now = time.monotonic()
        if now - self._expired_at > EXPIRE_EVERY_S:  # the age cap must hold while the link is down, too
            self._expired_at = now
            with contextlib.suppress(sqlite3.Error):  # a disk that takes no delete: the next round tries again
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
            epoch=self.buffer.epoch,
            last_acked_seq=self.buffer.acked,
            unacked_batches=self.buffer.unacked_count(),
            oldest_unacked_s=round(self.buffer.oldest_unacked_s(), 3),
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
            except Exception as exc:
                fault = _buffer_fault(exc)
                if fault is None:
                    raise
                # The buffer's disk cannot take a batch or an acknowledgment: what it holds stays, and is sent
                # again (the hub drops copies) from a new session once it can.
                self.connected.clear()
                delay = self.policy.failed(auth=False)
                if not self.writes.failing:
                    log.error("%s: the buffer cannot write (%s); reconnecting in %.1f s", node, fault, delay)  # noqa: TRY400
                self.writes.failing = True  # logged once; the next write that succeeds says so
                await asyncio.sleep(delay)

    async def _session(self) -> None:
        hub = self.config.hub
        node = self.config.node_id
        session = secrets.token_hex(8)
        status_topic = topic(node, Channel.STATUS, hub.topic_prefix)
        will = aiomqtt.Will(status_topic, self._status("offline", session), qos=1, retain=True)
        client_id = hub.client_id or uplink_client_id(node)
        async with hub_client(hub, client_id, will, attempt=self.policy.failures) as client:
            # The retained acknowledgment arrives on subscribing: what the hub already holds is not re-sent.
            granted = await client.subscribe(topic(node, Channel.ACK, hub.topic_prefix), qos=1,
                                             timeout=hub.connect_timeout_s)  # fmt: skip
            self._refused_acks(granted)
            if self.commands is not None:
                cmd_topic = topic(node, Channel.COMMAND, hub.topic_prefix)
                await client.subscribe(cmd_topic, qos=1, timeout=hub.connect_timeout_s)
            await client.publish(
                status_topic, self._status("online", session), qos=1, retain=True, timeout=hub.connect_timeout_s
            )
            self.policy.connected()
            self.connected.set()
            self.acks.reset()
            # Readings from here on are live; everything older is backlog, and every unacknowledged batch is re-sent.
            live_from = self.buffer.last_id + 1
            backlog = self.buffer.unacked()
            log.info(
                "%s: connected to %s:%s (epoch %s, acked to seq %d); backlog %d batches + readings below id %d",
                node, hub.host, hub.port, self.buffer.epoch, self.buffer.acked, len(backlog), live_from,
            )  # fmt: skip
            commands: asyncio.Queue[bytes] = asyncio.Queue(COMMANDS_WAITING_MAX)
            try:
                async with asyncio.TaskGroup() as tg:
                    receive = inbound.receive(client, node, hub.topic_prefix, self.acks, commands)
                    tg.create_task(receive, name=f"{node}:uplink:receive")
                    tg.create_task(self._live(client, live_from), name=f"{node}:uplink:live")
                    tg.create_task(self._drain(client, backlog, live_from), name=f"{node}:uplink:drain")
                    tg.create_task(self._resend(client), name=f"{node}:uplink:resend")
                    tg.create_task(self._heartbeat(client, status_topic, session), name=f"{node}:uplink:status")
                    if self.commands is not None:
                        serve = inbound.serve_commands(client, node, hub, self.commands, commands)
                        tg.create_task(serve, name=f"{node}:uplink:cmd")
            except ExceptionGroup as group:
                # A lost link fails every lane at once; surface it as the one MqttError run() retries on.
                lost, other = group.split(aiomqtt.MqttError)
                if lost is None or other is not None:
                    raise
                raise _first(lost) from group

    async def _publish(self, client: aiomqtt.Client, batch: Batch) -> None:
        hub = self.config.hub
        self.acks.sent(batch.seq)
        # aiomqtt's publish returns once the PUBACK arrived (QoS 1): flow control; the hub's ack frees the batch.
        await client.publish(topic(self.config.node_id, Channel.TELEMETRY, hub.topic_prefix), batch.payload, qos=1,
                             timeout=hub.connect_timeout_s)  # fmt: skip
        self.published_batches += 1
        if self.ack_refused:
            self.buffer.forget(batch.seq)
            self.acks.forgot(batch.seq)

    def _refused_acks(self, granted: object) -> None:
        """Note whether the broker refused our ack subscription (SUBACK 0x80, MQTT 3.1.1 §3.9.3; MQTT 5 ≥ 0x80).

        A node account provisioned before acknowledgments existed may not read
        its ack topic until its credentials are rotated (docs/edge-agent.md);
        until then batches are forgotten at the broker's PUBACK, as before.
        """
        codes = granted if isinstance(granted, list | tuple) else [granted]
        refused = any(_code(c) >= 0x80 for c in codes)
        if refused and not self.ack_refused:
            log.warning("%s: the broker refuses us the hub's acknowledgments; batches are forgotten at its PUBACK "
                        "and lost if it crashes (rotate this node's credentials)", self.config.node_id)  # fmt: skip
        self.ack_refused = refused

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
            await self.acks.room()  # readings wait unbatched while the window is full
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
            if self.acks.is_acked(old.seq):  # the retained acknowledgment came meanwhile
                continue
            await self.acks.room()
            await self._publish(client, old)
            sent += 1
            await asyncio.sleep(pause)
        while True:
            await self.acks.room()
            batch = self.buffer.form(up.batch_max_readings, below_id=live_from)
            if batch is None:
                break
            await self._publish(client, batch)
            sent += 1
            await asyncio.sleep(pause)
        if sent:
            log.info("%s: backlog sent (%d batches)", self.config.node_id, sent)

    async def _resend(self, client: aiomqtt.Client) -> None:
        """Send again, at the backlog's pace, every batch the hub has not acknowledged in time."""
        pause = 1.0 / self.config.uplink.drain_batches_per_s
        while True:
            due = await self.acks.overdue()
            by_seq = {b.seq: b for b in self.buffer.batches(due)}
            log.info("%s: %d batches not acknowledged by the hub in time; sending them again", self.config.node_id,
                     len(by_seq))  # fmt: skip
            for seq in due:
                batch = by_seq.get(seq)
                if batch is None:  # dropped by the buffer caps meanwhile: nothing to wait for
                    self.acks.forgot(seq)
                    continue
                if self.acks.is_acked(seq):
                    continue
                await self._publish(client, batch)
                await asyncio.sleep(pause)

    async def _heartbeat(self, client: aiomqtt.Client, status_topic: str, session: str) -> None:
        hub, up = self.config.hub, self.config.uplink
        while True:
            await asyncio.sleep(up.status_interval_s)
            self.buffer.expire()
            payload = self._status("online", session, with_health=True)
            await client.publish(status_topic, payload, qos=1, retain=True, timeout=hub.connect_timeout_s)


def _buffer_fault(exc: BaseException) -> sqlite3.Error | None:
    """The buffer's SQLite error when that is what ended the session (alone or with the lanes it stopped)."""
    if isinstance(exc, sqlite3.Error):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        faults, rest = exc.split(sqlite3.Error)
        if faults is not None and (rest is None or rest.split(aiomqtt.MqttError)[1] is None):
            first = faults.exceptions[0]
            return _buffer_fault(first)
    return None


def _first(group: BaseExceptionGroup[aiomqtt.MqttError]) -> aiomqtt.MqttError:
    exc = group.exceptions[0]
    return _first(exc) if isinstance(exc, BaseExceptionGroup) else exc


def _code(granted: object) -> int:
    """A SUBACK return code, from paho's ``ReasonCode`` (MQTT 5 and 2.x) or a plain int (MQTT 3.1.1)."""
    value = getattr(granted, "value", granted)
    return value if isinstance(value, int) else 0x80
