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
from dataclasses import dataclass, field

from citysense.contract import Channel, NodeStatus, TelemetryBatch, decode, parse_topic
from citysense.errors import ContractError
from citysense.profiles import ProfileSet
from hub.ingest.deadletters import DeadLetterSink, Refusal
from hub.ingest.durable import DurableWriter
from hub.ingest.seqledger import SeqLedger
from hub.ingest.spool import Spool
from hub.ingest.stats import IngestStats
from hub.ingest.status import StatusHandler
from hub.ingest.validate import check_batch
from hub.ingest.wire import FastBatch, decode_telemetry
from hub.latest import LatestCache
from hub.registry.service import Registry
from hub.registry.snapshot import RegistrySnapshot
from hub.store.base import Store, StoredReading
from hub.store.errors import StoreRejected

log = logging.getLogger(__name__)
TOUCH_EVERY_MS = 5_000

# Called with the readings of one batch after they are stored (or spooled); e.g. the alert engine.
StoredObserver = Callable[[Sequence[StoredReading]], Awaitable[None]]


@dataclass(slots=True)
class _Telemetry:
    """Telemetry batches checked by :meth:`Pipeline.prepare`: readings to store per message, batches to mark."""

    groups: list[tuple[str, str, bytes, list[StoredReading]]]  # (topic, node, payload, storable readings)
    marks: list[tuple[str, int]]  # every (node, seq) seen, duplicates included
    now_ms: int
    stored: list[StoredReading] | None = None  # set by Pipeline.store_prepared: what the store (or spool) took


@dataclass(slots=True)
class Prepared:
    """Messages decoded, validated and deduped, waiting for :meth:`Pipeline.commit`."""

    steps: list[_Telemetry | NodeStatus]
    claimed: set[tuple[str, int]] = field(default_factory=set)


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
        self.latest = latest
        self.stats = stats
        self.prefix = topic_prefix
        self.dedupe = SeqLedger(registry)
        self.spool = spool
        self.dead = DeadLetterSink(registry, stats)
        self.writer = DurableWriter(store, spool, stats, self.dead)
        self.on_stored: list[StoredObserver] = []
        self.status = StatusHandler(registry=registry, latest=latest, stats=stats)
        self._touched: dict[str, int] = {}
        self._inflight: set[tuple[str, int]] = set()  # claimed by prepared, uncommitted groups

    @property
    def store(self) -> Store:
        """Where readings go (through :class:`DurableWriter`, with the spool behind it)."""
        return self.writer.store

    @store.setter
    def store(self, store: Store) -> None:
        self.writer.store = store

    async def handle(self, topic: str, payload: bytes) -> None:
        """Process one message; returns once its readings are stored, spooled or dead-lettered."""
        await self.handle_many([(topic, payload)])

    async def handle_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Process messages as one store write; returns once all are stored, spooled or dead-lettered.

        Messages keep their arrival order: a status message is applied only after
        the telemetry that arrived before it, so a node's last readings cannot
        mark it online again after its death message.
        """
        await self.commit(await self.prepare(messages))

    async def prepare(self, messages: Sequence[tuple[str, bytes]]) -> Prepared:
        """Decode, validate and dedupe messages and dead-letter what is refused; store nothing yet.

        The batches kept are claimed until :meth:`commit` (or :meth:`forget_inflight`):
        a later :meth:`prepare` treats them as duplicates, so the consumer can
        prepare the next group while this one is being written.
        """
        steps: list[_Telemetry | NodeStatus] = []
        claimed: set[tuple[str, int]] = set()
        batches: list[tuple[str, str, TelemetryBatch | FastBatch, bytes]] = []
        refused: list[Refusal] = []
        self.stats.messages += len(messages)
        try:
            for topic, payload in messages:
                parsed = self._parse(topic, payload, refused)
                if isinstance(parsed, tuple):
                    batches.append((topic, parsed[0], parsed[1], payload))
                elif isinstance(parsed, NodeStatus):
                    if batches:
                        steps.append(await self._check(batches, claimed))
                        batches = []
                    steps.append(parsed)
            if batches:
                steps.append(await self._check(batches, claimed))
            if refused:
                await self.dead.add_many(refused)
        except BaseException:
            self._inflight -= claimed
            raise
        return Prepared(steps, claimed)

    async def commit(self, prepared: Prepared) -> None:
        """Store, spool or apply what :meth:`prepare` kept, in arrival order; then release its claims."""
        try:
            await self.store_prepared(prepared)
        finally:
            await self.finish(prepared)

    async def store_prepared(self, prepared: Prepared) -> None:
        """Write the readings :meth:`prepare` kept to the store or the spool (dead-lettering what it refuses).

        Several prepared groups may be written at once (the consumer overlaps
        one group's store round trip with the next one's encoding); each must
        then go through :meth:`finish` in arrival order. Raises only what the
        store raises beyond refusing data (``StoreUnavailable`` is retried or
        spooled by :class:`DurableWriter`).
        """
        for step in prepared.steps:
            if isinstance(step, _Telemetry):
                step.stored = await self._store_groups(step.groups)

    async def finish(self, prepared: Prepared) -> None:
        """After :meth:`store_prepared`: publish, notify, mark and apply statuses in arrival order; release claims.

        Called for every prepared group, written or not: a group whose write
        failed only releases its claims (its messages are not acknowledged, and
        the broker sends them again).
        """
        try:
            for step in prepared.steps:
                if isinstance(step, NodeStatus):
                    await self.status.apply(step)
                elif step.stored is None:
                    return  # the write failed: nothing after it is applied either
                else:
                    await self._stored_step(step, step.stored)
        finally:
            self._inflight -= prepared.claimed

    def forget_inflight(self) -> None:
        """Drop every claim of prepared groups that will not be committed (their messages were not acked)."""
        self._inflight.clear()

    def _parse(
        self, topic: str, payload: bytes, refused: list[Refusal]
    ) -> tuple[str, TelemetryBatch | FastBatch] | NodeStatus | None:
        """Return ``(node, batch)`` of a telemetry message or a node's status; add the rest to ``refused``."""
        try:
            node, channel = parse_topic(topic, self.prefix)
        except ContractError as exc:
            refused.append((topic, None, exc.reason, exc.detail, payload))
            return None
        if node not in self.snapshot.nodes:
            refused.append((topic, node, "unknown_node", f"node '{node}' is not registered", payload))
            return None
        try:
            if channel is Channel.TELEMETRY:
                return node, decode_telemetry(payload, node)
            if channel is Channel.STATUS:
                return decode(NodeStatus, payload, node)
        except ContractError as exc:
            refused.append((topic, node, exc.reason, exc.detail, payload))
        return None

    async def _check(
        self, batches: list[tuple[str, str, TelemetryBatch | FastBatch, bytes]], claimed: set[tuple[str, int]]
    ) -> _Telemetry:
        keys = [(node, b.seq) for _, node, b, _ in batches]
        # Taken before the ledger query: a claim released meanwhile is by then in the ledger's memory window.
        pending = self._inflight.intersection(keys)
        seen = await self.dedupe.seen_many(keys) | pending
        now_ms = time.time_ns() // 1_000_000
        groups: list[tuple[str, str, bytes, list[StoredReading]]] = []
        letters: list[Refusal] = []
        for (topic, node, batch, payload), key in zip(batches, keys, strict=True):
            if key in seen:
                self.stats.duplicates += 1
                continue
            seen.add(key)
            claimed.add(key)
            self._inflight.add(key)
            self.stats.lag_ms = now_ms - batch.sent_ms
            ok, rejected = check_batch(batch, self.snapshot.nodes[node], self.profiles, now_ms)
            letters += [(topic, node, r.reason, r.detail, r.reading_json()) for r in rejected]
            groups.append((topic, node, payload, ok))
            self.stats.batches += 1
        if letters:
            await self.dead.add_many(letters)
        return _Telemetry(groups, keys, now_ms)

    async def _stored_step(self, step: _Telemetry, stored: list[StoredReading]) -> None:
        if stored:
            await self.latest.publish(stored)
            await self._notify(stored)
        self.stats.readings_stored += len(stored)
        await self.dedupe.mark_many(step.marks)
        await self._touch_nodes({node for node, _ in step.marks}, step.now_ms)

    async def _store_groups(self, groups: list[tuple[str, str, bytes, list[StoredReading]]]) -> list[StoredReading]:
        """Write all groups at once; if the store refuses, write them one by one to dead-letter only the culprit."""
        everything = [r for *_, ok in groups for r in ok]
        if not everything:
            return []
        try:
            await self._write(everything)
        except StoreRejected as exc:
            if len(groups) == 1:
                topic, node, payload, _ = groups[0]
                return await self._refused(topic, node, payload, exc)
        else:
            return everything
        stored: list[StoredReading] = []
        for topic, node, payload, ok in groups:
            try:
                await self._write(ok)
            except StoreRejected as exc:
                await self._refused(topic, node, payload, exc)
            else:
                stored += ok
        return stored

    async def _refused(self, topic: str, node: str, payload: bytes, exc: StoreRejected) -> list[StoredReading]:
        # The store refuses this data itself; retrying cannot help, so keep it as a dead letter.
        await self.dead.add(topic, node, "store_rejected", str(exc), payload)
        return []

    async def _touch_nodes(self, nodes: set[str], now_ms: int) -> None:
        """Record traffic as liveness, at most every ``TOUCH_EVERY_MS`` per node (one DB write each)."""
        due = [n for n in nodes if now_ms - self._touched.get(n, 0) >= TOUCH_EVERY_MS]
        for node in due:
            self._touched[node] = now_ms
        if due:
            await asyncio.to_thread(self._set_online, due, now_ms)

    def _set_online(self, nodes: list[str], now_ms: int) -> None:
        for node in nodes:
            self.registry.set_node_status(node, True, now_ms)

    async def _write(self, readings: list[StoredReading]) -> None:
        await self.writer.write(readings)

    async def drain(self) -> None:
        """Move spooled batches into the store, oldest first, forever (run as a task)."""
        await self.writer.drain()

    async def _notify(self, readings: list[StoredReading]) -> None:
        """Tell every observer; one failing observer never stops ingest or the others."""
        for observer in self.on_stored:
            try:
                await observer(readings)
            except Exception:
                log.exception("on_stored observer %r failed", observer)
