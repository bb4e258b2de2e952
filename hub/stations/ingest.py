"""A station's observations into the pipeline's readings: validate, store or spool, tell the observers.

The same steps as an agent's telemetry (:mod:`hub.ingest.pipeline`): each
observation becomes a reading of the station node's device, is checked by
:func:`hub.ingest.validate.check_batch` against the registry and the profile
(range, type, time), written through the pipeline's
:class:`~hub.ingest.durable.DurableWriter` (store, or spool while the store is
away), published to ``/latest`` and handed to the ``on_stored`` observers (the
alert engine). Readings refused are dead-lettered with their reason; the rest
of the report is kept. :meth:`StationIngest.report` returns only once the
report is durable, so the caller may then confirm it to the station.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from hub.ingest.deadletters import Refusal as DeadLetter
from hub.ingest.pipeline import Pipeline
from hub.ingest.validate import check_batch
from hub.ingest.wire import FastBatch, FastReading
from hub.stations.base import Report
from hub.stations.batching import Coalescer
from hub.stations.directory import StationDirectory, StationInfo
from hub.stations.ledger import ReportLedger
from hub.stations.profiles import StationProfile
from hub.stations.stats import GatewayStats
from hub.store.base import StoredReading
from hub.store.errors import StoreRejected

log = logging.getLogger(__name__)
TOUCH_EVERY_MS = 5_000


@dataclass(slots=True)
class _Item:
    """One report's (or one DTU poll's) readings on their way to the store."""

    topic: str
    node: str
    readings: Sequence[FastReading]
    letters: list[DeadLetter]
    key: str | None  # the report's dedupe key (None: a DTU poll)


class StationIngest:
    """Stores station reports once each, through the agents' pipeline."""

    def __init__(
        self,
        pipeline: Pipeline,
        ledger: ReportLedger,
        station_profiles: Mapping[str, StationProfile],
        stats: GatewayStats,
    ) -> None:
        self.pipeline = pipeline
        self.ledger = ledger
        self.station_profiles = station_profiles
        self.stats = stats
        self._touched: dict[str, int] = {}
        self._batch: Coalescer[_Item] = Coalescer(self._flush)

    async def report(self, topic: str, info: StationInfo, report: Report, window: str = "") -> None:
        """Store ``report`` of ``info``'s station once; return when it is durable (stored, spooled or refused)."""
        async with self.ledger.claim(info.node, report.key) as fresh:
            if not fresh:
                self.stats.duplicates += 1
                return
            readings, letters = self.readings_of(topic, info, report, window)
            await self._batch.submit(_Item(topic, info.node, readings, letters, report.key))
            self.stats.reports += 1

    async def store(self, topic: str, node: str, readings: Sequence[FastReading]) -> None:
        """Validate and store readings of ``node`` that carry no report key (a DTU's polls)."""
        await self._batch.submit(_Item(topic, node, readings, [], None))

    def readings_of(
        self, topic: str, info: StationInfo, report: Report, window: str
    ) -> tuple[list[FastReading], list[DeadLetter]]:
        """Map the report's observations through the station's profiles; refuse codes no profile maps."""
        out: list[FastReading] = []
        letters: list[DeadLetter] = []
        for ob in report.observations:
            hit = None
            for dev in info.devices:
                sp = self.station_profiles.get(dev.profile)
                if sp is not None and (found := sp.metric_for(ob.code, window)) is not None:
                    hit = (dev.id, found[1], found[0].unit)
                    break
            if hit is None:
                detail = f"{info.node}: no station profile of this station maps code '{ob.code}'"
                letters.append((topic, info.node, "unknown_element", detail, json.dumps([ob.code, ob.value])))
                continue
            device, metric, unit = hit
            quality = cast("Any", ob.quality.wire)  # a Quality's wire name is one of the contract's literals
            out.append(FastReading(device=device, metric=metric, value=ob.value, unit=unit, ts_ms=ob.ts_ms,
                                   quality=quality))  # fmt: skip
        return out, letters

    async def _flush(self, items: list[_Item]) -> None:
        """Check every item, write all that passed at once, then publish, notify and mark the reports."""
        p = self.pipeline
        now_ms = time.time_ns() // 1_000_000
        groups: list[tuple[_Item, list[StoredReading]]] = []
        letters: list[DeadLetter] = []
        for item in items:
            letters += item.letters
            view = p.snapshot.nodes.get(item.node)
            if view is None:
                letters.append((item.topic, item.node, "unknown_node", f"node '{item.node}' is not registered", ""))
                groups.append((item, []))
                continue
            ok: list[StoredReading] = []
            if item.readings:
                batch = FastBatch(node=item.node, seq=0, sent_ms=now_ms, readings=list(item.readings))
                ok, rejected = check_batch(batch, view, p.profiles, now_ms)
                letters += [(item.topic, item.node, r.reason, r.detail, r.reading_json()) for r in rejected]
            groups.append((item, ok))
        for letter in letters:
            self.stats.refusals[letter[2]] += 1
        if letters:
            await p.dead.add_many(letters)
        stored = await self._write(groups)
        if stored:
            self.stats.readings_stored += len(stored)
            p.stats.readings_stored += len(stored)
            await p.latest.publish(stored)
            for observer in p.on_stored:
                try:
                    await observer(stored)
                except Exception:
                    log.exception("on_stored observer %r failed", observer)
        await self.ledger.mark_many([(i.node, i.key) for i in items if i.key is not None])
        await self._touch({i.node for i, ok in groups if ok}, now_ms)

    async def _write(self, groups: list[tuple[_Item, list[StoredReading]]]) -> list[StoredReading]:
        """One write for all; if the store refuses it, one per item so that only the culprit is dead-lettered."""
        writer = self.pipeline.writer
        everything = [r for _, ok in groups for r in ok]
        if not everything:
            return []
        try:
            await writer.write(everything)
        except StoreRejected:
            pass
        else:
            return everything
        stored: list[StoredReading] = []
        for item, ok in groups:
            try:
                if ok:
                    await writer.write(ok)
            except StoreRejected as exc:
                # The store refuses this data itself: retrying cannot help, keep it as a dead letter.
                payload = json.dumps([r.metric for r in ok])
                await self.pipeline.dead.add(item.topic, item.node, "store_rejected", str(exc), payload)
            else:
                stored += ok
        return stored

    async def _touch(self, nodes: set[str], now_ms: int) -> None:
        """Record traffic as liveness, at most every ``TOUCH_EVERY_MS`` per node."""
        due = [n for n in nodes if now_ms - self._touched.get(n, 0) >= TOUCH_EVERY_MS]
        if not due:
            return
        for node in due:
            self._touched[node] = now_ms
            self.pipeline.latest.set_node_online(node, True, now_ms, "")
        await asyncio.to_thread(StationDirectory(self.pipeline.registry).mark_online, due, now_ms)
