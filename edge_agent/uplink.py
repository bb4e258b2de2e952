"""Uplink: batch readings into TelemetryBatch messages and publish them to the hub.

A batch closes when it holds ``batch_max_readings`` readings or its first
reading has waited ``batch_max_wait_s``. It is published at QoS 1 and counts
as sent only when the broker's PUBACK arrives (MQTT 3.1.1 §4.3.2); until then
it is retried, with the same sequence number, across reconnects.

On connect the agent publishes a retained birth (``online``) message and
leaves a retained death (``offline``) message as its last will (MQTT 3.1.1
§3.1.2.5), so the hub learns when the node is gone.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import Sequence

import aiomqtt

from citysense import __version__
from citysense.agentconfig import AgentConfig
from citysense.contract import Channel, DeviceInfo, NodeStatus, Reading, TelemetryBatch, encode, topic
from edge_agent.seqstate import SeqState

log = logging.getLogger(__name__)

BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 60.0


class Uplink:
    """Collects readings and forwards them to the hub's broker."""

    def __init__(self, config: AgentConfig, seq: SeqState, queue_size: int = 100_000) -> None:
        self.config = config
        self.seq = seq
        self._queue: asyncio.Queue[Reading] = asyncio.Queue(maxsize=queue_size)
        self._pending: TelemetryBatch | None = None
        self.published_batches = 0
        self.connected = asyncio.Event()

    async def put(self, readings: Sequence[Reading]) -> None:
        """Queue readings for sending (waits while the queue is full)."""
        for r in readings:
            await self._queue.put(r)

    def _status(self, state: str, session: str) -> bytes:
        devices = [DeviceInfo(device=d.id, profile=d.profile) for d in self.config.devices]
        msg = NodeStatus(
            node=self.config.node_id,
            state=state,
            session=session,
            ts_ms=time.time_ns() // 1_000_000,
            agent_version=__version__,
            config_version=self.config.config_version,
            devices=devices,
        )
        return encode(msg)

    async def run(self) -> None:
        """Connect, publish, and reconnect with full-jitter back-off, forever."""
        attempt = 0
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                delay = random.uniform(0, min(BACKOFF_MAX_S, BACKOFF_MIN_S * 2**attempt))
                attempt += 1
                log.warning("%s: uplink lost (%s); retrying in %.1f s", self.config.node_id, exc, delay)
                await asyncio.sleep(delay)
            else:
                attempt = 0

    async def _session(self) -> None:
        hub = self.config.hub
        node = self.config.node_id
        session = secrets.token_hex(8)
        status_topic = topic(node, Channel.STATUS, hub.topic_prefix)
        will = aiomqtt.Will(status_topic, self._status("offline", session), qos=1, retain=True)
        async with aiomqtt.Client(
            hub.host,
            hub.port,
            identifier=f"agent-{node}",
            username=hub.username,
            password=hub.password.get_secret_value() if hub.password else None,
            keepalive=hub.keepalive_s,
            will=will,
            timeout=hub.connect_timeout_s,
        ) as client:
            await client.publish(
                status_topic, self._status("online", session), qos=1, retain=True, timeout=hub.connect_timeout_s
            )
            log.info("%s: connected to %s:%s", node, hub.host, hub.port)
            self.connected.set()
            telemetry_topic = topic(node, Channel.TELEMETRY, hub.topic_prefix)
            while True:
                if self._pending is None:
                    self._pending = await self._next_batch()
                await client.publish(telemetry_topic, encode(self._pending), qos=1, timeout=hub.connect_timeout_s)
                self._pending = None
                self.published_batches += 1

    async def _next_batch(self) -> TelemetryBatch:
        up = self.config.uplink
        readings = [await self._queue.get()]
        try:
            async with asyncio.timeout(up.batch_max_wait_s):
                while len(readings) < up.batch_max_readings:
                    readings.append(await self._queue.get())
        except TimeoutError:
            pass
        return TelemetryBatch(
            node=self.config.node_id, seq=self.seq.take(), sent_ms=time.time_ns() // 1_000_000, readings=readings
        )
