"""Which station reports are stored, by ``(node, report key)``, kept in the registry database.

A station that gets no confirmation sends the report again (HJ 212-2017
§6.6: re-send after the answer timeout; SL 651-2014 likewise); the copy has
the same key (:attr:`hub.stations.base.Report.key`) and is confirmed without
being stored twice. The ledger survives restarts: a station's keys are read
from the database the first time it is seen after a start, and then kept in
memory (the newest ``per_node`` of each station: 256 keys of ~100 bytes, about
25 kB a station). A station whose older keys are not all in memory (it sent
more than ``per_node`` reports) has a key memory does not know looked up in
the database; the look-ups of one moment share one query. The gateway marks the
reports of one store write in one transaction. A copy that arrives while
the first is still being written waits for it (:meth:`ReportLedger.claim`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator

from sqlalchemy import delete, func, select, tuple_

from hub.registry.outage import Periodic
from hub.registry.service import Registry
from hub.stations.batching import Coalescer
from hub.stations.models import StationReport

_SQLITE_MARK = "INSERT OR IGNORE INTO station_reports (node, report_key, stored_ms) VALUES (?, ?, ?)"
KEY_MAX = 128


class ReportLedger:
    """Persistent dedupe of station reports."""

    def __init__(self, registry: Registry, per_node: int = 256) -> None:
        self.registry = registry
        self.per_node = per_node
        self._keys: dict[str, OrderedDict[str, None]] = {}  # node -> its newest keys (loaded from the DB once)
        self._inflight: dict[tuple[str, str], asyncio.Event] = {}
        self._loader: Coalescer[str] = Coalescer(self._load)
        self._partial: set[str] = set()  # nodes with keys in the database that memory no longer holds
        self._prober: Coalescer[tuple[str, str]] = Coalescer(self._probe)

    async def _node_keys(self, node: str) -> OrderedDict[str, None]:
        keys = self._keys.get(node)
        if keys is None:
            await self._loader.submit(node)  # stations seen for the first time at once: one query for all
            keys = self._keys[node]
        return keys

    async def _load(self, nodes: list[str]) -> None:
        todo = sorted({n for n in nodes if n not in self._keys})
        if todo:
            loaded = await asyncio.to_thread(self._db_keys, todo)
            for node in todo:
                keys = loaded.get(node, [])
                if len(keys) >= self.per_node:
                    self._partial.add(node)
                self._keys.setdefault(node, OrderedDict.fromkeys(keys))

    async def _known(self, node: str, key: str) -> bool:
        keys = await self._node_keys(node)
        if key in keys:
            return True
        if node not in self._partial:
            return False
        await self._prober.submit((node, key))
        return key in keys

    async def _probe(self, items: list[tuple[str, str]]) -> None:
        """Look keys memory does not hold up in the database; remember those found."""
        found = await asyncio.to_thread(self._db_find, sorted(set(items)))
        for node, key in found:
            self._remember(node, key)

    def _db_find(self, items: list[tuple[str, str]]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        with self.registry.session() as s:
            for i in range(0, len(items), 400):  # under SQLite's bound-parameter limit
                q = select(StationReport.node, StationReport.report_key).where(
                    tuple_(StationReport.node, StationReport.report_key).in_(items[i : i + 400])
                )
                out += [(n, k) for n, k in s.execute(q)]
        return out

    def _remember(self, node: str, key: str) -> None:
        keys = self._keys.setdefault(node, OrderedDict())
        keys[key] = None
        keys.move_to_end(key)
        if len(keys) > self.per_node:
            keys.popitem(last=False)
            self._partial.add(node)

    def _db_keys(self, nodes: list[str]) -> dict[str, list[str]]:
        """The newest ``per_node`` keys of each node, oldest first."""
        out: dict[str, list[str]] = {}
        rank = (
            func.row_number()
            .over(partition_by=StationReport.node, order_by=StationReport.stored_ms.desc())
            .label("rank")
        )
        with self.registry.session() as s:
            for i in range(0, len(nodes), 500):
                inner = (
                    select(StationReport.node, StationReport.report_key, StationReport.stored_ms, rank)
                    .where(StationReport.node.in_(nodes[i : i + 500]))
                    .subquery()
                )
                q = select(inner.c.node, inner.c.report_key).where(inner.c.rank <= self.per_node)
                for node, key in s.execute(q.order_by(inner.c.node, inner.c.stored_ms)):
                    out.setdefault(node, []).append(key)
        return out

    async def seen(self, node: str, key: str) -> bool:
        """True when the report is stored (by this hub now or before a restart)."""
        return await self._known(node, key[:KEY_MAX])

    @contextlib.asynccontextmanager
    async def claim(self, node: str, key: str) -> AsyncIterator[bool]:
        """Own the report while it is written; yields ``False`` when it is (by then) stored."""
        k = (node, key[:KEY_MAX])
        while (busy := self._inflight.get(k)) is not None:
            await busy.wait()
        if await self._known(node, k[1]):
            yield False
            return
        done = self._inflight[k] = asyncio.Event()
        try:
            yield True
        finally:
            del self._inflight[k]
            done.set()

    async def mark_many(self, keys: list[tuple[str, str]]) -> None:
        """Record that these reports are stored or spooled, in one transaction."""
        if not keys:
            return
        batch = [(node, key[:KEY_MAX]) for node, key in keys]
        await asyncio.to_thread(self._db_mark, batch)
        for node, key in batch:
            await self._node_keys(node)
            self._remember(node, key)

    def _db_mark(self, batch: list[tuple[str, str]]) -> None:
        now = time.time_ns() // 1_000_000
        with self.registry._write_lock, self.registry.session() as s, s.begin():
            if s.bind is not None and s.bind.dialect.name == "sqlite":
                s.connection().exec_driver_sql(_SQLITE_MARK, [(n, k, now) for n, k in batch])
            else:
                for n, k in dict.fromkeys(batch):
                    s.merge(StationReport(node=n, report_key=k, stored_ms=now))

    async def run_pruning(self, keep_s: float, every_s: float = 600.0) -> None:
        """Forget reports older than ``keep_s`` every ``every_s``, forever (run as a task)."""

        async def round_() -> None:
            await asyncio.to_thread(self._db_prune, time.time_ns() // 1_000_000 - int(keep_s * 1000))

        await Periodic("station report pruning", round_, every_s).run()  # a database outage never ends it

    def _db_prune(self, older_than_ms: int) -> None:
        with self.registry._write_lock, self.registry.session() as s, s.begin():
            s.execute(delete(StationReport).where(StationReport.stored_ms < older_than_ms))
