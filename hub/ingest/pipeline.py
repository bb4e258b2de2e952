"""Turn one MQTT message into stored readings, dead letters or node status.

Transport-agnostic: the MQTT consumer and the tests call :meth:`Pipeline.handle`
with a topic and a payload. Nothing a node sends can make it raise; every
refusal becomes a dead letter with a reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from citysense.contract import Channel, NodeStatus, TelemetryBatch, decode, parse_topic
from citysense.errors import ContractError
from citysense.profiles import ProfileSet
from hub.ingest.deadletters import DeadLetterSink
from hub.ingest.seqledger import SeqLedger
from hub.ingest.spool import Spool, SpoolFull
from hub.ingest.stats import IngestStats
from hub.ingest.validate import check_batch
from hub.latest import LatestCache
from hub.registry.service import Registry
from hub.registry.snapshot import RegistrySnapshot
from hub.store.base import Store, StoredReading
from hub.store.errors import StoreRejected, StoreUnavailable

log = logging.getLogger(__name__)
STORE_RETRY_MAX_S = 30.0

# Called with the readings of one batch after they are stored (or spooled); e.g. the alert engine.
StoredObserver = Callable[[Sequence[StoredReading]], Awaitable[None]]


class Pipeline:
    """Validates, dedupes and stores what agents publish."""

    def __init__(
        self,
        *,
        registry: Registry,
        snapshot: RegistrySnapshot,
        profiles: ProfileSet,
        store: Store,
        latest: LatestCache,
        stats: IngestStats,
        topic_prefix: str,
        spool: Spool | None = None,
    ) -> None:
        self.registry = registry
        self.snapshot = snapshot
        self.profiles = profiles
        self.store = store
        self.latest = latest
        self.stats = stats
        self.prefix = topic_prefix
        self.dedupe = SeqLedger(registry)
        self.spool = spool
        self.dead = DeadLetterSink(registry, stats)
        self.on_stored: list[StoredObserver] = []

    async def handle(self, topic: str, payload: bytes) -> None:
        """Process one message; returns once its readings are stored or dead-lettered."""
        self.stats.messages += 1
        try:
            node, channel = parse_topic(topic, self.prefix)
        except ContractError as exc:
            await self.dead.add(topic, None, exc.reason, exc.detail, payload)
            return
        if node not in self.snapshot.nodes:
            await self.dead.add(topic, node, "unknown_node", f"node '{node}' is not registered", payload)
            return
        try:
            if channel is Channel.TELEMETRY:
                await self._telemetry(topic, node, decode(TelemetryBatch, payload, node), payload)
            elif channel is Channel.STATUS:
                await self._status(decode(NodeStatus, payload, node))
        except ContractError as exc:
            await self.dead.add(topic, node, exc.reason, exc.detail, payload)

    async def _telemetry(self, topic: str, node: str, batch: TelemetryBatch, payload: bytes) -> None:
        if await self.dedupe.seen(node, batch.seq):
            self.stats.duplicates += 1
            return
        now_ms = time.time_ns() // 1_000_000
        self.stats.lag_ms = now_ms - batch.sent_ms
        ok, rejected = check_batch(batch, self.snapshot.nodes[node], self.profiles, now_ms)
        if rejected:
            await self.dead.add_many([(topic, node, r.reason, r.detail, r.reading.model_dump_json()) for r in rejected])
        if ok:
            try:
                await self._write(ok)
            except StoreRejected as exc:
                # The store refuses this data itself; retrying cannot help, so keep it as a dead letter.
                await self.dead.add(topic, node, "store_rejected", str(exc), payload)
                ok = []
            else:
                await self.latest.publish(ok)
                await self._notify(ok)
        await self.dedupe.mark(node, batch.seq)
        self.stats.batches += 1
        self.stats.readings_stored += len(ok)
        await asyncio.to_thread(self.registry.set_node_status, node, True, now_ms)

    async def _write(self, readings: list[StoredReading]) -> None:
        """Return once ``readings`` are in the store or the spool; wait (unacknowledged) while neither takes them."""
        if self.spool is None or self.spool.batches == 0:
            started = time.perf_counter()
            try:
                await self.store.write(readings)
            except StoreUnavailable as exc:
                if self.spool is None:
                    await self._retry(readings, exc)
                    return
                log.warning("store unavailable (%s); spooling to %s", exc, self.spool.path)
            else:
                self.stats.observe_write(time.perf_counter() - started)
                return
        # Behind a non-empty spool so that the store receives batches in arrival order.
        delay = 0.5
        while True:
            try:
                await self.spool.put(readings)
            except SpoolFull as exc:
                self.stats.store_retries += 1
                log.warning("%s; holding the message unacknowledged for %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, STORE_RETRY_MAX_S)
            else:
                return

    async def _retry(self, readings: list[StoredReading], first: StoreUnavailable) -> None:
        """Without a spool: retry with capped back-off while the store is unreachable."""
        delay = 0.5
        exc: StoreUnavailable = first
        while True:
            self.stats.store_retries += 1
            log.warning("store unavailable (%s); retrying in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, STORE_RETRY_MAX_S)
            try:
                await self.store.write(readings)
            except StoreUnavailable as again:
                exc = again
            else:
                return

    async def drain(self) -> None:
        """Move spooled batches into the store, oldest first, forever (run as a task)."""
        if self.spool is None:
            return
        spool, delay = self.spool, 0.5
        while True:
            await spool.nonempty.wait()
            item = await spool.peek()
            if item is None:
                spool.nonempty.clear()
                continue
            batch_id, readings = item
            try:
                await self.store.write(readings)
            except StoreUnavailable as exc:
                self.stats.store_retries += 1
                log.warning(
                    "spool drain: store unavailable (%s); %d batches waiting, retry in %.1f s",
                    exc,
                    spool.batches,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, STORE_RETRY_MAX_S)
                continue
            except StoreRejected as exc:
                await self.dead.add("spool", readings[0].node if readings else None, "store_rejected", str(exc), "")
            delay = 0.5
            await spool.remove(batch_id, len(readings))
            if spool.batches == 0:
                log.info("spool drained into the store")

    async def _notify(self, readings: list[StoredReading]) -> None:
        """Tell every observer; one failing observer never stops ingest or the others."""
        for observer in self.on_stored:
            try:
                await observer(readings)
            except Exception:
                log.exception("on_stored observer %r failed", observer)

    async def _status(self, status: NodeStatus) -> None:
        self.stats.status_messages += 1
        self.latest.set_node_online(status.node, status.state == "online", status.ts_ms, status.session)
        log.info(
            "%s: node %s (agent %s, config v%d)", status.node, status.state, status.agent_version, status.config_version
        )
        await asyncio.to_thread(
            self.registry.set_node_status,
            status.node,
            status.state == "online",
            status.ts_ms,
            status.agent_version or None,
            status.config_version,
        )
