"""Which ``(node, seq)`` batches are already stored, kept in the hub database.

An agent re-publishes a batch it never saw acknowledged, and a broker
redelivers unacknowledged QoS 1 messages after the hub crashes (MQTT 3.1.1
§4.4), possibly to another worker of a shared subscription. The ledger lives
in the registry database (SQLite, or PostgreSQL shared by every worker) so a
duplicate is recognised across restarts and workers; an in-memory window in
front of it saves a query for the common case of a recent duplicate.

A batch is marked only after its readings are stored or spooled: a crash in
between stores it twice, which the store absorbs (one value per
``(device, metric, ts)``, last write wins).

A hub that is the ledger's only writer (``exclusive``: no shared subscription,
so no other worker stores this hub's nodes) also keeps, per node, the highest
sequence number stored: read from the ledger the first time the node is seen,
raised by every mark. Agents number batches upwards, so a new batch is above
it and needs no query; only a batch at or below it (a redelivery, an agent that
lost its sequence state) is looked up. With shared subscriptions another worker
may have stored any batch, so every batch the window does not know is looked up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import cast

from sqlalchemy import BigInteger, Integer, String, Table, delete, func, select, text, tuple_
from sqlalchemy.orm import Mapped, mapped_column

from hub.ingest.dedupe import SeqWindow
from hub.registry.models import Base
from hub.registry.service import Registry


class StoredBatch(Base):
    """One batch the hub has stored or spooled."""

    __tablename__ = "ingest_stored_batches"
    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # Indexed by run_pruning (CREATE INDEX IF NOT EXISTS), outside the registry's migrated metadata.
    stored_ms: Mapped[int] = mapped_column(Integer)


_T = cast("Table", StoredBatch.__table__)  # the hot path uses Core statements on the table
_SQLITE_MARK = "INSERT OR IGNORE INTO ingest_stored_batches (node, seq, stored_ms) VALUES (?, ?, ?)"


class SeqLedger:
    """Persistent dedupe of batches on ``(node, seq)``."""

    def __init__(self, registry: Registry, window: int = 4096, *, exclusive: bool = False) -> None:
        self.registry = registry
        self.recent = SeqWindow(window)
        self.exclusive = exclusive
        self._high: dict[str, int] = {}  # exclusive only: node -> highest seq stored (-1: none)

    async def seen(self, node: str, seq: int) -> bool:
        """True when ``(node, seq)`` was stored by this or any worker, now or before a restart."""
        if self.recent.seen(node, seq):
            return True
        return await asyncio.to_thread(self._db_seen, node, seq)

    def _db_seen(self, node: str, seq: int) -> bool:
        with self.registry.session() as s:
            return s.scalar(select(StoredBatch.seq).where(StoredBatch.node == node, StoredBatch.seq == seq)) is not None

    async def seen_many(self, keys: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
        """Return those of ``keys`` already stored (one query for all that the memory window does not know)."""
        known = {k for k in keys if self.recent.seen(*k)}
        ask = [k for k in dict.fromkeys(keys) if k not in known]
        if ask and self.exclusive:
            ask = await self._at_or_below_high(ask)
        if ask:
            known |= await asyncio.to_thread(self._db_seen_many, ask)
        return known

    async def _at_or_below_high(self, keys: list[tuple[str, int]]) -> list[tuple[str, int]]:
        """Those of ``keys`` the ledger may hold: at or below their node's highest stored seq."""
        first_seen = sorted({n for n, _ in keys if n not in self._high})
        if first_seen:
            highs = await asyncio.to_thread(self._db_high, first_seen)
            for node in first_seen:
                self._high.setdefault(node, highs.get(node, -1))
        return [(n, q) for n, q in keys if q <= self._high[n]]

    def _db_high(self, nodes: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        with self.registry.session() as s:
            for i in range(0, len(nodes), 400):
                q = select(_T.c.node, func.max(_T.c.seq)).where(_T.c.node.in_(nodes[i : i + 400])).group_by(_T.c.node)
                out.update({n: int(m) for n, m in s.execute(q)})
        return out

    def _db_seen_many(self, keys: list[tuple[str, int]]) -> set[tuple[str, int]]:
        out: set[tuple[str, int]] = set()
        with self.registry.session() as s:
            for i in range(0, len(keys), 400):  # stay under SQLite's bound-parameter limit
                chunk = keys[i : i + 400]
                q = select(_T.c.node, _T.c.seq).where(tuple_(_T.c.node, _T.c.seq).in_(chunk))
                out |= {(n, q_) for n, q_ in s.execute(q)}
        return out

    async def mark(self, node: str, seq: int) -> None:
        """Record that ``(node, seq)`` is safe."""
        await self.mark_many([(node, seq)])

    async def mark_many(self, keys: Sequence[tuple[str, int]]) -> None:
        """Record that every ``(node, seq)`` is safe, in one transaction."""
        for node, seq in keys:
            self.recent.mark(node, seq)
            high = self._high.get(node)
            if high is not None and seq > high:
                self._high[node] = seq
        if keys:
            await asyncio.to_thread(self._db_mark, list(dict.fromkeys(keys)))

    def _db_mark(self, keys: list[tuple[str, int]]) -> None:
        now = time.time_ns() // 1_000_000
        with self.registry.session() as s, s.begin():
            if s.bind is not None and s.bind.dialect.name == "sqlite":
                # The driver's own executemany: SQLAlchemy's statement and parameter handling cost more than SQLite.
                s.connection().exec_driver_sql(_SQLITE_MARK, [(n, q, now) for n, q in keys])
            else:
                for n, q in keys:
                    row = {"node": n, "seq": q, "stored_ms": now}
                    s.merge(StoredBatch(**row))

    async def run_pruning(self, keep_s: float, every_s: float = 600.0) -> None:
        """Forget batches older than ``keep_s`` every ``every_s``, forever (run as a task).

        The ledger must outlive any redelivery: a broker redelivers within the
        hub's reconnect, an agent resends what it never saw acknowledged when it
        reconnects. At 1,000 batches/s a day is 86 M rows, so keep hours, not weeks.
        """
        await asyncio.to_thread(self._ensure_index)
        while True:
            await self.prune(time.time_ns() // 1_000_000 - int(keep_s * 1000))
            await asyncio.sleep(every_s)

    def _ensure_index(self) -> None:
        with self.registry.session() as s, s.begin():
            s.execute(
                text(
                    "CREATE INDEX IF NOT EXISTS ix_ingest_stored_batches_stored_ms ON ingest_stored_batches (stored_ms)"
                )
            )

    async def prune(self, older_than_ms: int) -> None:
        """Forget batches stored before ``older_than_ms`` (agents never resend that far back)."""
        await asyncio.to_thread(self._db_prune, older_than_ms)

    def _db_prune(self, older_than_ms: int) -> None:
        with self.registry.session() as s, s.begin():
            s.execute(delete(StoredBatch).where(StoredBatch.stored_ms < older_than_ms))
