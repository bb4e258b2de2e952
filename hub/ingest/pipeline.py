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

from citysense.contract import Channel, parse_topic
from citysense.errors import ContractError
from citysense.profiles import ProfileSet
from hub.ingest.deadletters import DeadLetterSink, Refusal
from hub.ingest.dedupe import UNKNOWN_DIGEST, BatchKey, digest
from hub.ingest.durable import DurableWriter, Group
from hub.ingest.parse import Refused, Status, Telemetry, parse
from hub.ingest.progress import Progress
from hub.ingest.salvage import batch_key
from hub.ingest.seqledger import SeqLedger
from hub.ingest.spool import Spool
from hub.ingest.stale import UnknownNodeGuard
from hub.ingest.stats import IngestStats
from hub.ingest.status import StatusHandler
from hub.ingest.validate import check_batch
from hub.latest import LatestCache
from hub.registry.outage import db_unavailable
from hub.registry.service import Registry
from hub.registry.snapshot import RegistrySnapshot
from hub.store.base import Store, StoredReading

log = logging.getLogger(__name__)
TOUCH_EVERY_MS = 5_000

# Called with the readings of one batch after they are stored (or spooled); e.g. the alert engine.
StoredObserver = Callable[[Sequence[StoredReading]], Awaitable[None]]


@dataclass(slots=True)
class _Telemetry:
    """Telemetry batches checked by :meth:`Pipeline.prepare`: readings to store per message, batches to mark."""

    groups: list[Group]
    marks: list[tuple[BatchKey, int]]  # (key, digest) of every new batch, to record in the ledger once durable
    done: list[tuple[BatchKey, int]]  # (key, agent floor) of every new batch, done once durable
    nodes: set[str]  # every node heard from, duplicates included
    now_ms: int
    stored: list[StoredReading] | None = None  # set by Pipeline.store_prepared: what the store (or spool) took


@dataclass(slots=True)
class Prepared:
    """Messages decoded, validated and deduped, waiting for :meth:`Pipeline.commit`."""

    steps: list[_Telemetry | Status]
    claimed: set[BatchKey] = field(default_factory=set)

    def wrote_registry(self) -> bool:
        """Whether finishing this group wrote the registry database (a status applied, a new batch in the ledger)."""
        return any(isinstance(st, Status) or st.marks for st in self.steps)

    def extend(self, other: Prepared) -> None:
        """Append another prepared group after this one (the consumer prepares one message at a time after a fault)."""
        self.steps += other.steps
        self.claimed |= other.claimed


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
        self.progress = Progress()  # what the consumer acknowledges to each node (hub/ingest/progress.py)
        self.status = StatusHandler(registry=registry, latest=latest, stats=stats)
        self._touched: dict[str, int] = {}
        self._inflight: dict[BatchKey, int] = {}  # claimed by prepared, uncommitted groups -> their digests
        self._epochs: dict[str, tuple[str, int]] = {}  # node -> (epoch, sent_ms) last recorded in the registry
        self.unknown_guard: UnknownNodeGuard | None = None  # several hubs on one registry (hub/ingest/stale.py)

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
        steps: list[_Telemetry | Status] = []
        claimed: set[BatchKey] = set()
        batches: list[Telemetry] = []
        refused: list[Refusal] = []
        done: list[tuple[BatchKey, int]] = []
        self.stats.messages += len(messages)
        now_ms = time.time_ns() // 1_000_000
        if self.unknown_guard is not None:  # a node another hub registered: reload before refusing it
            await self.unknown_guard.check(messages, self.prefix, self.snapshot.nodes)
        nodes = self.snapshot.nodes
        try:
            for topic, payload in messages:
                parsed = parse(topic, payload, self.prefix, nodes, now_ms)
                if isinstance(parsed, Telemetry):
                    batches.append(parsed)
                    continue
                if isinstance(parsed, Refused):
                    refused.append(parsed.refusal)
                    if parsed.key is not None:  # dead-lettered whole: done, so the agent may forget it
                        done.append((parsed.key, 0))
                    continue
                if batches:
                    steps.append(await self._check(batches, claimed, refused))
                    batches = []
                steps.append(parsed)
            if batches:
                steps.append(await self._check(batches, claimed, refused))
            if refused:
                await self.dead.add_many(refused)
        except BaseException:
            for key in claimed:
                self._inflight.pop(key, None)
            raise
        for (node, epoch, seq), floor in done:
            self.progress.done(node, epoch, seq, floor)
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
                step.stored = await self.writer.write_groups(step.groups)

    async def finish(self, prepared: Prepared) -> None:
        """After :meth:`store_prepared`: publish, notify, mark and apply statuses in arrival order; release claims.

        Called for every prepared group, written or not: a group whose write
        failed only releases its claims (its messages are not acknowledged, and
        the broker sends them again).
        """
        try:
            for step in prepared.steps:
                if isinstance(step, Status):
                    await self._apply_status(step)
                elif step.stored is None:
                    return  # the write failed: nothing after it is applied either
                else:
                    await self._stored_step(step, step.stored)
        finally:
            for key in prepared.claimed:
                self._inflight.pop(key, None)

    async def raised(self, topic: str, payload: bytes, exc: Exception) -> None:
        """Dead-letter a message whose handling raised; a batch that still names its seq counts as done."""
        try:
            node, channel = parse_topic(topic, self.prefix)
        except ContractError:
            node, channel = None, None
        await self.dead.add(topic, node, "internal_error", f"{type(exc).__name__}: {exc}", payload)
        key = batch_key(payload) if node in self.snapshot.nodes and channel is Channel.TELEMETRY else None
        if node is not None and key is not None:
            self.progress.done(node, *key)

    def forget_inflight(self) -> None:
        """Drop every claim of prepared groups that will not be committed (their messages were not acked)."""
        self._inflight.clear()

    async def _check(self, batches: list[Telemetry], claimed: set[BatchKey], refused: list[Refusal]) -> _Telemetry:
        keys: list[BatchKey] = [(t.node, t.batch.epoch, t.batch.seq) for t in batches]
        # Taken before the ledger query: a claim released meanwhile is by then in the ledger's memory window.
        pending = {k: self._inflight[k] for k in keys if k in self._inflight}
        stored = await self.dedupe.seen_many(keys)
        now_ms = time.time_ns() // 1_000_000
        step = _Telemetry([], [], [], set(), now_ms)
        epochs: dict[str, str] = {}  # node -> epoch to record on the node
        for t, key in zip(batches, keys, strict=True):
            step.nodes.add(t.node)
            content = digest(t.payload)
            known = stored.get(key, pending.get(key))
            if known is not None:
                if known not in (content, UNKNOWN_DIGEST):
                    detail = f"seq {key[2]} of epoch {key[1]} was stored before with other content"
                    refused.append((t.topic, t.node, "seq_reused", detail, t.payload))
                else:
                    self.stats.duplicates += 1
                if key in stored:  # in the ledger: durable, so done (an in-flight claim is done by its own group)
                    self.progress.done(*key, t.batch.floor)
                continue
            pending[key] = content
            claimed.add(key)
            self._inflight[key] = content
            self.stats.lag_ms = now_ms - t.batch.sent_ms
            refused += t.bad
            try:
                ok, rejected = check_batch(t.batch, self.snapshot.nodes[t.node], self.profiles, now_ms)
            except Exception as exc:  # a bug must not stop ingest: the message is dead-lettered, and done
                log.exception("%s: checking batch %s raised", t.node, key)
                refused.append((t.topic, t.node, "internal_error", f"{type(exc).__name__}: {exc}", t.payload))
                ok, rejected = [], []
            refused += [(t.topic, t.node, r.reason, r.detail, r.reading_json()) for r in rejected]
            step.groups.append((t.topic, t.node, t.payload, ok))
            step.marks.append((key, content))
            step.done.append((key, t.batch.floor))
            self.stats.batches += 1
            last = self._epochs.get(t.node)
            sent_ms = min(t.batch.sent_ms, now_ms)  # a clock years ahead must not pin the epoch shown
            if last is None or (last[0] != t.batch.epoch and last[1] <= sent_ms):
                self._epochs[t.node] = (t.batch.epoch, sent_ms)
                epochs[t.node] = t.batch.epoch
        if epochs:
            await self._record_epochs(epochs)
        return step

    async def _record_epochs(self, epochs: dict[str, str]) -> None:
        """Record nodes' epochs on the nodes (one transaction) where they changed: a replaced box, a wiped state.

        Asked for a node's first batch since the hub started and for a batch of
        another epoch sent after the last one recorded (not a stray redelivery).
        """
        for node, (old, new) in (await asyncio.to_thread(self.registry.set_node_epochs, epochs)).items():
            if old is not None:
                log.info("%s: new agent state (epoch %s, was %s)", node, new, old)

    async def _stored_step(self, step: _Telemetry, stored: list[StoredReading]) -> None:
        if stored:
            try:
                await self.latest.publish(stored)
            except Exception:  # the readings are stored: a failing cache must not stop ingest
                log.exception("latest values: publishing %d readings failed", len(stored))
            await self._notify(stored)
        self.stats.readings_stored += len(stored)
        await self.dedupe.mark_many(step.marks)
        for (node, epoch, seq), floor in step.done:
            self.progress.done(node, epoch, seq, floor)
        await self._touch_nodes(step.nodes, step.now_ms)

    async def _touch_nodes(self, nodes: set[str], now_ms: int) -> None:
        """Record traffic as liveness, at most every ``TOUCH_EVERY_MS`` per node (one transaction for all due)."""
        due = [n for n in nodes if now_ms - self._touched.get(n, 0) >= TOUCH_EVERY_MS]
        for node in due:
            self._touched[node] = now_ms
        if due:
            await asyncio.to_thread(self.registry.set_nodes_seen, due, now_ms)

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

    async def _apply_status(self, step: Status) -> None:
        """Apply a node's status; one that raises is dead-lettered (and acknowledged), never retried forever.

        The registry database away is no fault of the message: that error propagates, the message stays
        unacknowledged and comes again (a dead letter would lose the node's status).
        """
        try:
            await self.status.apply(step.status)
        except Exception as exc:
            if db_unavailable(exc):
                raise
            log.exception("%s: applying a status message raised", step.status.node)
            await self.dead.add(step.topic, step.status.node, "internal_error", f"{type(exc).__name__}: {exc}",
                                step.payload)  # fmt: skip
