"""Subscribe to a local broker and feed mapped readings into the sink; never die on a bad payload.

Each message goes to the first mapping whose topic filter matches it. A
payload that cannot be mapped is counted under its reason (``malformed``,
reported in the agent's health status) and logged once per reason; the
session goes on. The session reconnects forever with the same policy as the
uplink.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from urllib.parse import urlsplit

import aiomqtt

from citysense.contract import Reading
from edge_agent.drivers import ReadingSink
from edge_agent.drivers.mqtt.jsonmap import Malformed, map_json
from edge_agent.drivers.mqtt.model import Mapping, MqttSource, PayloadFormat
from edge_agent.drivers.mqtt.sparkplug import SparkplugState
from edge_agent.reconnect import ReconnectPolicy

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0


class MqttSensorSource:
    """One local broker, its mappings, and the counters of what could not be mapped."""

    def __init__(self, source: MqttSource, mappings: list[Mapping], sink: ReadingSink) -> None:
        self.source = source
        self.mappings = mappings
        self.sink = sink
        self.malformed: Counter[str] = Counter()
        self.mapped = 0
        self.sparkplug = SparkplugState()
        self.subscribed = asyncio.Event()
        self._policy = ReconnectPolicy(min_s=0.5, max_s=30.0)

    def map(self, topic: str, payload: bytes, now_ms: int | None = None) -> list[Reading]:
        """Return the readings of one message, or ``[]`` after counting why it could not be mapped."""
        now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
        mapping = next((m for m in self.mappings if aiomqtt.Topic(topic).matches(m.topic)), None)
        if mapping is None:
            return []
        try:
            if mapping.format is PayloadFormat.SPARKPLUG_B:
                readings = self.sparkplug.handle(mapping, topic, payload, now)
            else:
                readings = map_json(mapping, topic, payload, now)
        except Malformed as exc:
            if not self.malformed[exc.reason]:
                log.warning("%s: malformed payload on %s (%s); counting these", self.source.id, topic, exc)
            self.malformed[exc.reason] += 1
            return []
        self.mapped += len(readings)
        return readings

    async def run(self) -> None:
        """Subscribe and map forever."""
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                self.subscribed.clear()
                delay = self._policy.failed()
                log.warning("%s: local broker lost (%s); retrying in %.1f s", self.source.id, exc, delay)
                await asyncio.sleep(delay)

    async def _session(self) -> None:
        url = urlsplit(self.source.url)
        password = self.source.password.get_secret_value() if self.source.password else None
        async with aiomqtt.Client(
            url.hostname or "127.0.0.1",
            url.port or 1883,
            username=self.source.username,
            password=password,
            timeout=TIMEOUT_S,
        ) as client:
            for m in self.mappings:
                await client.subscribe(m.topic, qos=1, timeout=TIMEOUT_S)
            self._policy.connected()
            self.subscribed.set()
            log.info("%s: subscribed to %d mappings at %s", self.source.id, len(self.mappings), self.source.url)
            async for message in client.messages:
                payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
                readings = self.map(message.topic.value, payload)
                if readings:
                    await self.sink.put(readings)
