"""Readings into the store, or into the disk spool while the store is away; the spool drained back in order.

:meth:`DurableWriter.write` returns only once the readings are in the store
or in the spool (so the caller may acknowledge the message), and waits,
unacknowledged, while neither takes them. Once anything is spooled, new
writes queue behind it so the store receives batches in arrival order;
:meth:`DurableWriter.drain` moves them in, oldest first.
:meth:`DurableWriter.write_groups` writes a prepared group's batches at once
and, when that fails, one by one, so only the batch the store refuses (or
that makes it raise) is dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
import time

from hub.ingest.deadletters import DeadLetterSink
from hub.ingest.dedupe import digest
from hub.ingest.spool import Spool, SpoolUnavailable
from hub.ingest.stats import IngestStats
from hub.store.base import Store, StoredReading
from hub.store.errors import StoreRejected, StoreUnavailable

log = logging.getLogger(__name__)
STORE_RETRY_MAX_S = 30.0
POISON_AFTER = 3  # a batch whose write alone raised this many times in a row is dead-lettered
# One batch kept for the store: (topic, node, payload, storable readings).
Group = tuple[str, str, bytes, list[StoredReading]]


class DurableWriter:
    """Store writes that survive a store outage (with a spool) or wait it out (without)."""

    def __init__(self, store: Store, spool: Spool | None, stats: IngestStats, dead: DeadLetterSink) -> None:
        self.store, self.spool, self.stats, self.dead = store, spool, stats, dead
        self._poison: dict[int, int] = {}  # payload digest -> failed writes in a row (unexpected store errors)
        self.holding = False  # neither the store nor the spool takes batches: messages wait unacknowledged

    async def write(self, readings: list[StoredReading]) -> None:
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
            except SpoolUnavailable as exc:  # full, or its disk is: the broker keeps the message meanwhile
                self.stats.store_retries += 1
                if not self.holding:  # once until the spool takes a batch again, not once per message and retry
                    log.warning("%s; holding messages unacknowledged, retrying", exc)
                self.holding = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, STORE_RETRY_MAX_S)
            else:
                if self.holding:
                    log.info("spool %s takes batches again", self.spool.path)
                self.holding = False
                return

    async def write_groups(self, groups: list[Group]) -> list[StoredReading]:
        """Write all groups at once; if the store refuses, write them one by one to dead-letter only the culprit.

        ``StoreRejected`` dead-letters the batch the store refuses. Anything else
        the store raises (``StoreUnavailable`` never reaches here: the durable
        writer spools) is either the store's fault or a bug some content meets:
        a batch is dead-lettered for it when the other batches of its group were
        written, or when it alone failed ``POISON_AFTER`` times in a row; else the
        error propagates and the broker redelivers the group.
        """
        everything = [r for *_, ok in groups for r in ok]
        if not everything:
            return []
        try:
            await self.write(everything)
        except Exception as exc:
            if len(groups) == 1:
                return await self._refused(groups[0], exc, alone=True)
        else:
            return everything
        stored: list[StoredReading] = []
        failed: list[tuple[Group, Exception]] = []
        for group in groups:
            try:
                await self.write(group[3])
            except Exception as exc:
                failed.append((group, exc))
            else:
                stored += group[3]
        for group, error in failed:
            await self._refused(group, error, alone=not stored)
        return stored

    async def _refused(self, group: Group, exc: Exception, *, alone: bool) -> list[StoredReading]:
        topic, node, payload, _ = group
        if isinstance(exc, StoreRejected):  # the store refuses this data itself; retrying cannot help
            await self.dead.add(topic, node, "store_rejected", str(exc), payload)
            return []
        key = digest(payload)
        if alone:
            self._poison[key] = self._poison.get(key, 0) + 1
            if self._poison[key] < POISON_AFTER:
                raise exc
        self._poison.pop(key, None)
        log.error("%s: writing a batch raised %r; dead-lettered", node, exc)
        await self.dead.add(topic, node, "internal_error", f"store: {type(exc).__name__}: {exc}", payload)
        return []

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
            try:
                await self._drain_one(spool)
            except SpoolUnavailable as exc:  # its disk full or failing: the batches stay, the drain goes on
                self.stats.store_retries += 1
                log.warning("spool drain: %s; retry in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, STORE_RETRY_MAX_S)
            else:
                delay = 0.5

    async def _drain_one(self, spool: Spool) -> None:
        """Move the oldest spooled batch into the store, waiting while the store is away."""
        item = await spool.peek()
        if item is None:
            spool.nonempty.clear()
            return
        batch_id, readings = item
        delay = 0.5
        while True:
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
            break
        await spool.remove(batch_id, len(readings))
        if spool.batches == 0:
            log.info("spool drained into the store")
