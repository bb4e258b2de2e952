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
from hub.ingest.dedupe import SeqWindow
from hub.ingest.stats import IngestStats
from hub.ingest.validate import check_batch
from hub.latest import LatestCache
from hub.registry.service import Registry
from hub.registry.snapshot import RegistrySnapshot
from hub.store.base import Store, StoredReading
from hub.store.errors import StoreRejected, StoreUnavailable

log = logging.getLogger(__name__)
STORE_RETRY_MAX_S = 30.0


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
        on_stored: Sequence[Callable[[list[StoredReading]], Awaitable[None]]] = (),
    ) -> None:
        self.registry = registry
        self.snapshot = snapshot
        self.profiles = profiles
        self.store = store
        self.latest = latest
        self.stats = stats
        self.prefix = topic_prefix
        self.dedupe = SeqWindow()
        self.dead = DeadLetterSink(registry, stats)
        self.on_stored = list(on_stored)  # observers (the alert engine) called after each successful store write

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
        if self.dedupe.seen(node, batch.seq):
            self.stats.duplicates += 1
            return
        now_ms = time.time_ns() // 1_000_000
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
                for observer in self.on_stored:
                    try:
                        await observer(ok)
                    except Exception:  # an observer's bug must not stop ingest; the readings are stored
                        log.exception("%s: on_stored observer %r failed", node, observer)
        self.dedupe.mark(node, batch.seq)
        self.stats.batches += 1
        self.stats.readings_stored += len(ok)
        await asyncio.to_thread(self.registry.set_node_status, node, True, now_ms)

    async def _write(self, readings: list[StoredReading]) -> None:
        """Write, retrying with capped back-off while the store is unreachable."""
        delay = 0.5
        while True:
            try:
                await self.store.write(readings)
            except StoreUnavailable as exc:
                self.stats.store_retries += 1
                log.warning("store unavailable (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, STORE_RETRY_MAX_S)
            else:
                return

    async def _status(self, status: NodeStatus) -> None:
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
