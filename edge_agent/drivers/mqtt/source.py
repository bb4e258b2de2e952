"""Subscribe to a local broker and feed mapped readings into the sink; never die on a bad message.

Each message goes to the first mapping whose topic filter (and ``topic_regex``,
when set) matches it. A message that cannot be mapped is counted under its
reason (``malformed``, reported in the agent's health status) and logged once
per reason; the session goes on. Even an error the mapping code did not
foresee is counted (``internal_error``, logged with its traceback once), and
a session that fails in any way reconnects with the uplink's back-off policy:
an MQTT source never stops the agent or its Modbus polling.

Messages are acknowledged (QoS 1 PUBACK) only once their readings are in the
sink (the durable buffer) or they have been counted as malformed, and the
session is persistent by default (a fixed client id, clean session off): what
sensors publish while the agent restarts waits at the local broker, and a
message whose readings did not reach the buffer is delivered again.

Availability mappings (Tasmota ``LWT``, zigbee2mqtt ``<name>/availability``)
set the device's status in the agent's health (``ok`` online, ``failing``
offline) and emit a boolean ``online`` reading.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter
from urllib.parse import urlsplit

import aiomqtt
from pydantic import ValidationError

from citysense.contract import DeviceHealth, Reading
from edge_agent.drivers import ReadingSink
from edge_agent.drivers.mqtt.jsonmap import Malformed, map_availability, map_json
from edge_agent.drivers.mqtt.model import Mapping, MqttSource, PayloadFormat
from edge_agent.drivers.mqtt.sparkplug import SparkplugState
from edge_agent.reconnect import ReconnectPolicy

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0
MAX_PAYLOAD = 256 * 1024  # a sensor message larger than this is refused (``too_large``)
MAX_DEVICES = 10_000  # availability kept for at most this many devices per source


class MqttSensorSource:
    """One local broker, its mappings, and the counters of what could not be mapped."""

    def __init__(self, source: MqttSource, mappings: list[Mapping], sink: ReadingSink) -> None:
        self.source = source
        self.mappings = mappings
        self._regex = [re.compile(m.topic_regex) if m.topic_regex else None for m in mappings]
        self.sink = sink
        self.malformed: Counter[str] = Counter()
        self.mapped = 0
        self.sparkplug = SparkplugState()
        self.online: dict[str, tuple[bool, int]] = {}  # device -> (online, since ms)
        self.subscribed = asyncio.Event()
        self._policy = ReconnectPolicy(min_s=0.5, max_s=30.0)

    def _route(self, topic: str) -> tuple[Mapping, dict[str, str]] | None:
        for mapping, regex in zip(self.mappings, self._regex, strict=True):
            if not aiomqtt.Topic(topic).matches(mapping.topic):
                continue
            if regex is None:
                return mapping, {}
            found = regex.fullmatch(topic)
            if found is not None:
                return mapping, {k: v for k, v in found.groupdict().items() if v is not None}
        return None

    def map(self, topic: str, payload: bytes, now_ms: int | None = None) -> list[Reading]:
        """Return the readings of one message, or ``[]`` after counting why it could not be mapped."""
        now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
        try:
            routed = self._route(topic)
            if routed is None:
                return []  # a topic no mapping describes (zigbee2mqtt/bridge/..., */set): not telemetry
            readings = self._dispatch(*routed, topic, payload, now)
        except Malformed as exc:
            self._count(exc.reason, topic, str(exc))
            return []
        except ValidationError as exc:  # a value or time out of the contract's ranges (a year-3000 timestamp)
            self._count("bad_value", topic, str(exc.errors(include_url=False)[0]["msg"]))
            return []
        except Exception:  # a bug must cost one message, not the agent
            if not self.malformed["internal_error"]:
                log.exception("%s: cannot map a message on %s; counting these as internal_error", self.source.id, topic)
            self.malformed["internal_error"] += 1
            return []
        self.mapped += len(readings)
        return readings

    def _dispatch(
        self, mapping: Mapping, groups: dict[str, str], topic: str, payload: bytes, now: int
    ) -> list[Reading]:
        if len(payload) > MAX_PAYLOAD:
            raise Malformed("too_large", f"{len(payload)} bytes (at most {MAX_PAYLOAD})")
        if mapping.availability is not None:
            return self._availability(mapping, topic, payload, groups, now)
        if mapping.format is PayloadFormat.SPARKPLUG_B:
            return self.sparkplug.handle(mapping, topic, payload, now)
        return map_json(mapping, topic, payload, now, groups)

    def _count(self, reason: str, topic: str, detail: str) -> None:
        if not self.malformed[reason]:
            log.warning("%s: malformed message on %s (%s); counting these", self.source.id, topic, detail)
        self.malformed[reason] += 1

    def _availability(
        self, mapping: Mapping, topic: str, payload: bytes, groups: dict[str, str], now: int
    ) -> list[Reading]:
        device, online = map_availability(mapping, topic, payload, groups)
        before = self.online.get(device)
        if before is None or before[0] != online:
            if before is None and len(self.online) >= MAX_DEVICES:
                raise Malformed("too_many_devices", f"more than {MAX_DEVICES} devices announce availability")
            self.online[device] = (online, now)
            log.info("%s: %s is %s", self.source.id, device, "online" if online else "offline")
        return [Reading(device=device, metric="online", value=online, ts_ms=now)]

    def health(self) -> list[DeviceHealth]:
        """The status of every device whose availability this source has seen."""
        return [
            DeviceHealth(device=d, state="ok" if up else "failing", last_good_ms=since if up else None)
            for d, (up, since) in sorted(self.online.items())
        ]

    async def run(self) -> None:
        """Subscribe and map forever; any failure of a session is followed by a reconnect."""
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                delay = self._policy.failed()
                log.warning("%s: local broker lost (%s); retrying in %.1f s", self.source.id, exc, delay)
            except Exception:  # never let a source stop the agent
                delay = self._policy.failed()
                log.exception("%s: MQTT source failed; restarting in %.1f s", self.source.id, delay)
            self.subscribed.clear()
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        url = urlsplit(self.source.url)
        password = self.source.password.get_secret_value() if self.source.password else None
        async with aiomqtt.Client(
            url.hostname or "127.0.0.1",
            url.port or 1883,
            identifier=self.source.client_id or f"citysense-agent-{self.source.id}",
            clean_session=not self.source.persistent_session,
            username=self.source.username,
            password=password,
            timeout=TIMEOUT_S,
        ) as client:
            client._client.manual_ack_set(True)  # PUBACK after the buffer has the readings (paho 2 API)
            for topic in dict.fromkeys(m.topic for m in self.mappings):
                await client.subscribe(topic, qos=1, timeout=TIMEOUT_S)
            self._policy.connected()
            self.subscribed.set()
            log.info("%s: subscribed to %d mappings at %s", self.source.id, len(self.mappings), self.source.url)
            async for message in client.messages:
                payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
                readings = self.map(message.topic.value, payload)
                if readings:
                    await self.sink.put(readings)
                client._client.ack(message.mid, message.qos)
