"""Is the broker there and passing messages? The hub pings itself through it.

A hub whose MQTT session is up can still receive nothing: a frozen broker
(SIGSTOP, a hung disk) keeps the TCP connection open, and MQTT's keep-alive
notices only after 1.5 times the keep-alive interval (MQTT 3.1.1 §3.1.2.10).
So the watch keeps its own small session and, every ``interval_s``, publishes
a QoS 0 message to a topic it subscribes to and times the echo. No echo for
``silent_after_s`` makes the broker ``silent``; a session that cannot be
opened makes it ``unreachable``. ``/api/v1/health`` and node liveness read
:meth:`BrokerWatch.state`.

The probe topic is ``{prefix}/_hub-probe/cmd``: the hub's own account may
already publish ``+/cmd`` and read everything under the prefix
(hub/broker/dynsec.py), and no node can subscribe to it (a node id never
starts with ``_``; contract ``ID_PATTERN``). Each watch recognises its own
echoes by a random token, so several hub workers can share the topic.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from dataclasses import dataclass
from typing import Literal

import aiomqtt

from citysense.mqttclient import Client
from citysense.runner import check_cancelled

log = logging.getLogger(__name__)
BrokerState = Literal["starting", "ok", "silent", "unreachable"]


def probe_topic(prefix: str) -> str:
    """The topic the watch pings itself on."""
    return f"{prefix}/_hub-probe/cmd"


@dataclass(frozen=True, slots=True)
class BrokerConn:
    """How the watch reaches the broker (the hub's probe account and the client id it is bound to)."""

    host: str
    port: int
    username: str | None
    password: str | None
    client_id: str
    prefix: str
    failover: tuple[tuple[str, int], ...] = ()  # more members of a clustered broker, tried in turn

    def endpoint(self, attempt: int) -> tuple[str, int]:
        """Where the ``attempt``-th consecutive try goes: the broker, then each failover member in turn."""
        endpoints = ((self.host, self.port), *self.failover)
        return endpoints[attempt % len(endpoints)]


class BrokerWatch:
    """Pings the broker through itself and says whether it passes messages."""

    def __init__(self, conn: BrokerConn, *, interval_s: float = 5.0, silent_after_s: float = 15.0) -> None:
        if not 0 < interval_s < silent_after_s:
            raise ValueError("need 0 < interval_s < silent_after_s")
        self.conn = conn
        self.interval_s, self.silent_after_s = interval_s, silent_after_s
        self.connected = False
        self.last_echo_mono: float | None = None
        self.rtt_ms: float | None = None
        self.error = ""
        self.pings = 0
        self.echoes = 0
        self._token = secrets.token_hex(8)
        self._sent: dict[int, float] = {}
        self._since = time.monotonic()
        self._reported: BrokerState = "starting"
        self._echoed_in_session = False
        self._session_since = 0.0

    def echo_age_s(self) -> float | None:
        """Seconds since the last echo (``None`` before the first)."""
        return None if self.last_echo_mono is None else time.monotonic() - self.last_echo_mono

    def state(self) -> BrokerState:
        """``ok`` while echoes come back; ``silent`` (connected, no echo) or ``unreachable``; ``starting`` at first."""
        now = time.monotonic()
        starting = self.last_echo_mono is None and now - self._since <= self.silent_after_s
        if not self.connected:
            return "starting" if starting else "unreachable"
        age = self.echo_age_s()
        if age is not None and age <= self.silent_after_s:
            return "ok"
        if starting:
            return "starting"
        # Reconnected, first echo not back yet (milliseconds, normally): still the outage, not a new silence.
        fresh = now - self._session_since <= self.silent_after_s
        return "unreachable" if fresh and self.last_echo_mono is not None else "silent"

    def ok(self) -> bool:
        """True unless the broker is known to be silent or unreachable (``starting`` counts as fine)."""
        return self.state() in ("ok", "starting")

    async def run(self) -> None:
        """Keep a session and ping through it forever, reconnecting with full-jitter back-off."""
        attempt = 0
        while True:
            check_cancelled()
            try:
                await self._session(attempt)
            except* aiomqtt.MqttError as group:
                self.error = str(group.exceptions[0])
            self.connected = False
            self._note_state()
            attempt = 0 if self._echoed_in_session else attempt + 1
            # Capped at silent_after_s so a restored broker is seen within about that long; jittered so the
            # workers of one hub do not reconnect in step.
            await asyncio.sleep(random.uniform(0.5, 1.0) * min(self.silent_after_s, 0.5 * 2 ** min(attempt, 8)))

    async def _session(self, attempt: int) -> None:
        c = self.conn
        host, port = c.endpoint(attempt)
        client = Client(
            host,
            port,
            username=c.username,
            password=c.password,
            identifier=c.client_id,  # the probe account is bound to it (HubSettings.probe_account)
            keepalive=max(5, int(self.silent_after_s)),
            timeout=self.interval_s,
        )
        topic = probe_topic(c.prefix)
        self._echoed_in_session = False
        try:
            async with client:  # connecting waits at most ``timeout`` (aiomqtt)
                await client.subscribe(topic, qos=0, timeout=self.interval_s)
                self.connected, self._session_since = True, time.monotonic()
                self.error = ""
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._ping(client, topic), name="hub:broker-probe-ping")
                    tg.create_task(self._echoes(client), name="hub:broker-probe-echo")
        finally:
            self.connected = False

    async def _ping(self, client: aiomqtt.Client, topic: str) -> None:
        while True:
            check_cancelled(leaf=True)  # publish's wait_for may have swallowed a cancel (citysense/runner.py)
            self.pings += 1
            self._sent[self.pings] = time.monotonic()
            while len(self._sent) > 16:  # pings never echoed (a frozen broker) are forgotten
                self._sent.pop(next(iter(self._sent)))
            await client.publish(topic, f"{self._token}:{self.pings}".encode(), qos=0, timeout=self.interval_s)
            self._note_state()
            await asyncio.sleep(self.interval_s)

    async def _echoes(self, client: aiomqtt.Client) -> None:
        async for msg in client.messages:
            payload = msg.payload if isinstance(msg.payload, bytes) else b""
            token, _, n = payload.decode(errors="replace").partition(":")
            sent = self._sent.pop(int(n), None) if token == self._token and n.isdigit() else None
            if sent is None:
                continue
            now = time.monotonic()
            self.last_echo_mono = now
            self.rtt_ms = (now - sent) * 1000
            self.echoes += 1
            self._echoed_in_session = True
            self._note_state()
        raise aiomqtt.MqttError("probe message stream ended")

    def _note_state(self) -> None:
        """Log each change of state once (not every ping)."""
        state = self.state()
        if state == self._reported:
            return
        if state == "ok":
            log.info("broker %s:%s passes messages (echo in %.1f ms)", self.conn.host, self.conn.port, self.rtt_ms)
        elif state != "starting":
            why = f": {self.error}" if self.error else f"; no echo for {self.silent_after_s:.0f} s"
            log.warning("broker %s:%s is %s%s", self.conn.host, self.conn.port, state, why)
        self._reported = state
