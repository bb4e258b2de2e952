"""MQTT consumer: subscribe to every node's telemetry and status, feed the pipeline.

The session is persistent (``clean_session=False`` with a fixed client id), so
the broker keeps QoS 1 messages for the hub while it is away (MQTT 3.1.1
§3.1.2.4). Messages are handled one at a time, in order.
"""

from __future__ import annotations

import asyncio
import logging
import random

import aiomqtt

from citysense.contract import Channel, subscription
from hub.ingest.pipeline import Pipeline

log = logging.getLogger(__name__)
BACKOFF_MAX_S = 30.0


class Consumer:
    """Owns the hub's MQTT session."""

    def __init__(
        self,
        pipeline: Pipeline,
        host: str,
        port: int,
        *,
        client_id: str = "citysense-hub",
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.pipeline = pipeline
        self.host, self.port = host, port
        self.client_id = client_id
        self.username, self.password = username, password
        self.timeout_s = timeout_s
        self.subscribed = asyncio.Event()

    async def run(self) -> None:
        """Consume forever, reconnecting with full-jitter back-off."""
        attempt = 0
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                self.subscribed.clear()
                delay = random.uniform(0, min(BACKOFF_MAX_S, 0.5 * 2**attempt))
                attempt += 1
                log.warning("hub: broker connection lost (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)

    async def _session(self) -> None:
        prefix = self.pipeline.prefix
        async with aiomqtt.Client(
            self.host,
            self.port,
            identifier=self.client_id,
            clean_session=False,
            username=self.username,
            password=self.password,
            timeout=self.timeout_s,
        ) as client:
            for channel in (Channel.TELEMETRY, Channel.STATUS):
                await client.subscribe(subscription(channel, prefix), qos=1, timeout=self.timeout_s)
            log.info("hub: subscribed at %s:%s", self.host, self.port)
            self.subscribed.set()
            async for message in client.messages:
                payload = message.payload
                data = payload if isinstance(payload, bytes) else str(payload).encode()
                await self.pipeline.handle(message.topic.value, data)
