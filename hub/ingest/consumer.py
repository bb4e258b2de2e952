"""MQTT consumer: subscribe to every node's telemetry and status, feed the pipeline.

Nothing accepted is lost:

* The session is persistent (``clean_session=False`` with a fixed client id),
  so the broker keeps QoS 1 messages for the hub while it is away
  (MQTT 3.1.1 §3.1.2.4).
* A message is acknowledged (PUBACK, §4.3.2) only after the pipeline has put
  its readings into the store or the on-disk spool, or dead-lettered it.
  aiomqtt acknowledges on receipt, before our code runs, so we switch the
  underlying paho client to manual acknowledgement before connecting and send
  the PUBACK ourselves. A hub killed before that PUBACK gets the message again
  from the broker on reconnect (§4.4), and the dedupe ledger drops it if it was
  already stored.

Several workers: give each the same ``share_group`` and a distinct client id;
the broker then hands each message to one of them (``$share/<group>/...``,
MQTT 5 §4.8.2; Mosquitto also honours it for 3.1.1 clients). Messages are
handled one at a time, in order, per worker.
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
        share_group: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.pipeline = pipeline
        self.host, self.port = host, port
        self.client_id = client_id
        self.username, self.password = username, password
        self.share_group = share_group
        self.timeout_s = timeout_s
        self.subscribed = asyncio.Event()
        self.acked = 0

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
            else:
                attempt = 0

    async def _session(self) -> None:
        prefix = self.pipeline.prefix
        client = aiomqtt.Client(
            self.host,
            self.port,
            identifier=self.client_id,
            clean_session=False,
            username=self.username,
            password=self.password,
            timeout=self.timeout_s,
        )
        # paho-mqtt 2.x: with manual ack, PUBACK is sent only by Client.ack(mid, qos).
        client._client.manual_ack_set(True)  # aiomqtt exposes no such option
        async with client:
            for channel in (Channel.TELEMETRY, Channel.STATUS):
                flt = subscription(channel, prefix, self.share_group)
                await client.subscribe(flt, qos=1, timeout=self.timeout_s)
            log.info("hub: subscribed at %s:%s as %s", self.host, self.port, self.client_id)
            self.subscribed.set()
            async for message in client.messages:
                payload = message.payload
                data = payload if isinstance(payload, bytes) else str(payload).encode()
                await self.pipeline.handle(message.topic.value, data)
                if message.qos > 0:
                    client._client.ack(message.mid, message.qos)
                self.acked += 1
