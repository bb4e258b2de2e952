"""Readings into the store, or into the disk spool while the store is away; the spool drained back in order.

:meth:`DurableWriter.write` returns only once the readings are in the store
or in the spool (so the caller may acknowledge the message), and waits,
unacknowledged, while neither takes them. Once anything is spooled, new
writes queue behind it so the store receives batches in arrival order;
:meth:`DurableWriter.drain` moves them in, oldest first.
"""

from __future__ import annotations

import asyncio
import logging
import time

from hub.ingest.deadletters import DeadLetterSink
from hub.ingest.spool import Spool, SpoolFull
from hub.ingest.stats import IngestStats
from hub.store.base import Store, StoredReading
from hub.store.errors import StoreRejected, StoreUnavailable

log = logging.getLogger(__name__)
STORE_RETRY_MAX_S = 30.0


class DurableWriter:
    """Store writes that survive a store outage (with a spool) or wait it out (without)."""

    def __init__(self, store: Store, spool: Spool | None, stats: IngestStats, dead: DeadLetterSink) -> None:
        self.store, self.spool, self.stats, self.dead = store, spool, stats, dead

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
