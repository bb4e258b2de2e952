"""MQTT consumer: subscribe to every node's telemetry and status, feed the pipeline.

Nothing accepted is lost:

* The session is persistent (``clean_session=False`` with a fixed client id),
  so the broker keeps QoS 1 messages for the hub while it is away
  (MQTT 3.1.1 §3.1.2.4).
* After each group the hub publishes, per node whose batches moved, how far
  they are durable (:class:`~citysense.contract.IngestAck` on the node's
  ``ack`` topic, retained): the agent keeps every batch until then, so a
  broker that crashes with messages it had PUBACKed loses nothing.
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
handled in arrival order, in groups of what arrived meanwhile (up to
``batch_messages``, waiting at most ``batch_wait_s``): one store write and one
dedupe transaction per group, then the group's PUBACKs in one write.

Pipelined, in three stages: one task decodes, validates and dedupes the next
group (:meth:`Pipeline.prepare`, CPU); each prepared group's store write
(:meth:`Pipeline.store_prepared`: encoding, then waiting on the store) starts
at once, so one group's round trip to InfluxDB overlaps the next group's
encoding; a third task takes the written groups strictly in arrival order,
finishes them (:meth:`Pipeline.finish`: latest values, alert engine, ledger,
status messages) and then acknowledges their messages. At most
``WRITES_IN_FLIGHT`` groups are being written at once. A prepared group that is
never finished (the session ended) is never acknowledged, so the broker sends
it again; its dedupe claims are dropped with the session.
"""

from __future__ import annotations

import asyncio
import logging
import random

import aiomqtt

from citysense.contract import Channel, subscription
from citysense.mqttclient import Client
from hub.ingest.acks import ack_all, publish_ack
from hub.ingest.fastpublish import Incoming, fast_publish, incoming
from hub.ingest.logsafe import safe
from hub.ingest.pipeline import Pipeline, Prepared
from hub.ingest.readahead import read_ahead
from hub.registry.outage import brief, db_unavailable

log = logging.getLogger(__name__)
# A prepared group, its messages, and the task writing it to the store.
_Writing = tuple[list[Incoming], Prepared, "asyncio.Task[None]"]
BACKOFF_MAX_S = 30.0
DB_RETRY_MAX_S = 5.0  # the longest wait before a new session after a fault of the hub's (the database away)
BROKER_LOST = "broker connection lost"
WRITES_IN_FLIGHT = 2  # prepared groups being written to the store at once (finished and acked in order)


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
        batch_messages: int = 500,
        batch_wait_s: float = 0.02,
    ) -> None:
        self.pipeline = pipeline
        self.host, self.port = host, port
        self.client_id = client_id
        self.username, self.password = username, password
        self.share_group = share_group
        self.timeout_s = timeout_s
        self.batch_messages = batch_messages
        self.batch_wait_s = batch_wait_s
        self.subscribed = asyncio.Event()
        self.acked = 0
        self.faults = 0  # sessions ended by a lost connection or a fault of the hub's
        self._failing: str | None = None  # what the last session ended with, until messages are acknowledged again
        self._attempt = 0  # sessions that ended since the last one that acknowledged messages or reached the broker
        self._groups = 0

    async def run(self) -> None:
        """Consume forever, reconnecting with full-jitter back-off.

        A session ends when the broker connection drops or when handling raised
        something that is not the message's fault (the registry database away):
        its unacknowledged messages come again in the next session. The back-off
        starts over once the broker is back or messages are handled again; each
        kind of failure is logged when it starts, and the recovery when a group
        was finished and acknowledged with the registry database written (a
        duplicate acknowledged from memory proves nothing), not once per attempt.
        """
        while True:
            lost: BaseException = aiomqtt.MqttError("session ended")
            try:
                await self._session()
            except* aiomqtt.MqttError as group:
                lost = group.exceptions[0]
            except* Exception as group:  # a fault of ours (the registry database away): never the end of ingest
                lost = group.exceptions[0]
            self.subscribed.clear()
            kind = self._describe(lost)
            # The broker is back when it answers: back off up to 30 s. The database comes back unannounced
            # while messages wait: look again every few seconds at most.
            cap = BACKOFF_MAX_S if isinstance(lost, aiomqtt.MqttError) else DB_RETRY_MAX_S
            delay = random.uniform(0, min(cap, 0.5 * 2**self._attempt))
            self._attempt += 1
            if kind != self._failing:
                if isinstance(lost, aiomqtt.MqttError):
                    log.warning("hub: broker connection lost (%s); reconnecting", lost)
                elif db_unavailable(lost):
                    log.warning("hub: ingest paused: %s; unacknowledged messages come again", kind)
                else:
                    log.error("hub: ingest session failed; unacknowledged messages come again", exc_info=lost)
                self._failing = kind
            self.faults += 1
            log.debug("hub: ingest session ended (%s); retrying in %.1f s", kind, delay)
            await asyncio.sleep(delay)

    @staticmethod
    def _describe(exc: BaseException) -> str:
        if isinstance(exc, aiomqtt.MqttError):
            return BROKER_LOST
        if db_unavailable(exc):
            return "the registry database is unavailable"
        return brief(exc)

    async def _session(self) -> None:
        prefix = self.pipeline.prefix
        client = Client(  # leaves no unretrieved error after a lost connection (citysense/mqttclient.py)
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
        fast_publish(client)  # PUBLISH packets parsed straight into tuples (hub/ingest/fastpublish.py)
        async with client:
            read_ahead(client)  # many messages per recv() and per event-loop turn (hub/ingest/readahead.py)
            for channel in (Channel.TELEMETRY, Channel.STATUS):
                flt = subscription(channel, prefix, self.share_group)
                await client.subscribe(flt, qos=1, timeout=self.timeout_s)
            # Once per recovery, not once per attempt while the database is away (run logs those states).
            level = logging.INFO if self._failing is None or self._failing == BROKER_LOST else logging.DEBUG
            log.log(level, "hub: subscribed at %s:%s as %s", self.host, self.port, self.client_id)
            if self._failing == BROKER_LOST:  # the broker is back: the next loss is news, its back-off starts over
                self._failing, self._attempt = None, 0
            self.subscribed.set()
            # A group waits here while it is written; the task making room is the finisher.
            writing: asyncio.Queue[_Writing] = asyncio.Queue(maxsize=WRITES_IN_FLIGHT - 1)
            try:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._prepare(client, tg, writing), name="hub:ingest-prepare")
                    tg.create_task(self._finish(client, writing), name="hub:ingest-finish")
            finally:
                self.pipeline.forget_inflight()  # nothing prepared here will be acked now; the broker resends it

    async def _prepare(self, client: aiomqtt.Client, tg: asyncio.TaskGroup, writing: asyncio.Queue[_Writing]) -> None:
        """Take what arrived (up to ``batch_messages``, waiting at most ``batch_wait_s``), prepare it, start its write.

        The first message of a group comes through aiomqtt's iterator, which
        raises ``MqttError`` when the connection drops; the rest are taken
        straight from its queue (the iterator makes a task per message). The
        queue is unbounded; what bounds it is the broker's inflight window,
        since nothing is acknowledged before it is stored.
        """
        loop = asyncio.get_running_loop()
        messages = aiter(client.messages)
        inbox = client._queue  # aiomqtt's incoming queue: no public way to take without the iterator
        while True:
            try:
                batch = [incoming(await anext(messages))]
            except StopAsyncIteration:
                raise aiomqtt.MqttError("message stream ended") from None
            deadline = loop.time() + self.batch_wait_s
            while len(batch) < self.batch_messages:
                if n := min(inbox.qsize(), self.batch_messages - len(batch)):
                    batch += [incoming(inbox.get_nowait()) for _ in range(n)]
                    continue
                try:
                    async with asyncio.timeout_at(deadline):
                        batch.append(incoming(await inbox.get()))  # Queue.get loses nothing when cancelled
                except TimeoutError:
                    break
            items = [(m.topic, m.payload) for m in batch]
            prepared = await self._prepare_group(items)
            self._groups += 1
            write = tg.create_task(self.pipeline.store_prepared(prepared), name=f"hub:ingest-write-{self._groups}")
            await writing.put((batch, prepared, write))

    async def _prepare_group(self, items: list[tuple[str, bytes]]) -> Prepared:
        """Prepare a group; if that raises, prepare its messages one by one and dead-letter each one that raises.

        So a message that makes the hub raise (a bug its content meets) is
        dead-lettered and acknowledged, never redelivered forever, and the rest
        of its group is kept. A fault that is not the message's (the registry
        database away) is raised at once, never dead-lettered (a database back a
        moment later would otherwise take a valid message as a dead letter, and
        it would be acknowledged): the session ends and the broker redelivers
        everything unacknowledged.
        """
        try:
            return await self.pipeline.prepare(items)
        except Exception as exc:
            if db_unavailable(exc):  # not the messages' fault: none is dead-lettered, all come again
                raise
            if len(items) == 1:
                topic, payload = items[0]
                log.exception("hub: a message on %r raised; dead-lettered", safe(topic))
                await self.pipeline.raised(topic, payload, exc)
                return Prepared([])
            log.warning("hub: a group of %d messages raised %r; preparing them one by one", len(items), exc)
        out = Prepared([])
        for item in items:
            out.extend(await self._prepare_group([item]))
        return out

    async def _finish(self, client: aiomqtt.Client, writing: asyncio.Queue[_Writing]) -> None:
        """Finish each written group in arrival order, then acknowledge its messages."""
        while True:
            batch, prepared, write = await writing.get()
            try:
                await write
            finally:
                await self.pipeline.finish(prepared)
            ack_all(client, batch)  # one write for the group's PUBACKs (hub/ingest/acks.py)
            self.acked += len(batch)
            if self._failing is not None and self._failing != BROKER_LOST and prepared.wrote_registry():
                log.info("hub: ingest recovered (after: %s)", self._failing)
                self._failing, self._attempt = None, 0
            for node, epoch, seq in self.pipeline.progress.take_moved():  # then how far each node is durable
                publish_ack(client, self.pipeline.prefix, node, epoch, seq)
