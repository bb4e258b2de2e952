"""Which ``(node, epoch, seq)`` batches are already stored, and with what content, kept in the hub database.

An agent re-publishes a batch it never saw acknowledged, and a broker
redelivers unacknowledged QoS 1 messages after the hub crashes (MQTT 3.1.1
§4.4), possibly to another worker of a shared subscription. The ledger lives
in the registry database (SQLite, or PostgreSQL shared by every worker) so a
duplicate is recognised across restarts and workers; an in-memory window in
front of it saves a query for the common case of a recent duplicate. Each row
keeps the payload's digest, so a reused seq with other content is told apart
from a redelivery.

A batch is marked only after its readings are stored or spooled: a crash in
between stores it twice, which the store absorbs (one value per
``(device, metric, ts)``, last write wins).

A hub that is the ledger's only writer (``exclusive``: no shared subscription,
so no other worker stores this hub's nodes) also keeps, per node and epoch,
the highest sequence number stored: read from the ledger the first time the
pair is seen, raised by every mark. Agents number batches upwards, so a new
batch is above it and needs no query; only a batch at or below it (a
redelivery, a re-send) is looked up. With shared subscriptions another worker
may have stored any batch, so every batch the window does not know is looked up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import cast

from sqlalchemy import BigInteger, String, Table, delete, func, select, text, tuple_
from sqlalchemy.orm import Mapped, mapped_column

from hub.ingest.dedupe import UNKNOWN_DIGEST, BatchKey, SeqWindow
from hub.registry.models import Base
from hub.registry.outage import Periodic
from hub.registry.service import Registry


class StoredBatch(Base):
    """One batch the hub has stored or spooled."""

    __tablename__ = "ingest_stored_batches"
    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    epoch: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    digest: Mapped[int | None] = mapped_column(BigInteger, default=None)  # hub.ingest.dedupe.digest of the payload
    # Indexed by run_pruning (CREATE INDEX IF NOT EXISTS), outside the registry's migrated metadata.
    stored_ms: Mapped[int] = mapped_column(BigInteger)


_T = cast("Table", StoredBatch.__table__)  # the hot path uses Core statements on the table
_SQLITE_MARK = (
    "INSERT OR IGNORE INTO ingest_stored_batches (node, epoch, seq, digest, stored_ms) VALUES (?, ?, ?, ?, ?)"
)
# PostgreSQL: a group's marks as one statement of five arrays (one round trip, one prepared plan for any size;
# PostgreSQL manual, "INSERT ... ON CONFLICT" and "unnest"). A batch already marked keeps its row, as on SQLite.
_PG_MARK = (
    "INSERT INTO ingest_stored_batches (node, epoch, seq, digest, stored_ms)"
    " SELECT n, e, q, d, %(now)s FROM unnest(%(n)s::varchar[], %(e)s::varchar[], %(q)s::bigint[], %(d)s::bigint[])"
    " AS t(n, e, q, d) ON CONFLICT (node, epoch, seq) DO NOTHING"
)
_CHUNK = 300  # keys per query: three bound parameters each, under SQLite's limit of 999


class SeqLedger:
    """Persistent dedupe of batches on ``(node, epoch, seq)``, with each batch's content digest."""

    def __init__(self, registry: Registry, window: int = 4096, *, exclusive: bool = False) -> None:
        self.registry = registry
        self.recent = SeqWindow(window)
        self.exclusive = exclusive
        self._high: dict[tuple[str, str], int] = {}  # exclusive only: (node, epoch) -> highest seq stored (-1: none)

    async def seen_many(self, keys: Sequence[BatchKey]) -> dict[BatchKey, int]:
        """Those of ``keys`` already stored, with their digests (one query for all the memory window does not know)."""
        known: dict[BatchKey, int] = {}
        ask: list[BatchKey] = []
        for k in dict.fromkeys(keys):
            d = self.recent.get(k)
            if d is None:
                ask.append(k)
            else:
                known[k] = d
        if ask and self.exclusive:
            ask = await self._at_or_below_high(ask)
        if ask:
            known.update(await asyncio.to_thread(self._db_seen_many, ask))
        return known

    async def _at_or_below_high(self, keys: list[BatchKey]) -> list[BatchKey]:
        """Those of ``keys`` the ledger may hold: at or below their node and epoch's highest stored seq."""
        first_seen = sorted({(n, e) for n, e, _ in keys if (n, e) not in self._high})
        if first_seen:
            highs = await asyncio.to_thread(self._db_high, first_seen)
            for pair in first_seen:
                self._high.setdefault(pair, highs.get(pair, -1))
        return [(n, e, q) for n, e, q in keys if q <= self._high[n, e]]

    def forget_highs(self) -> None:
        """Drop the cached highest seqs: another writer may have stored batches meanwhile (a partition came back)."""
        self._high.clear()

    def _db_high(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        with self.registry.session() as s:
            for i in range(0, len(pairs), _CHUNK):
                chunk = pairs[i : i + _CHUNK]
                q = (
                    select(_T.c.node, _T.c.epoch, func.max(_T.c.seq))
                    .where(tuple_(_T.c.node, _T.c.epoch).in_(chunk))
                    .group_by(_T.c.node, _T.c.epoch)
                )
                out.update({(n, e): int(m) for n, e, m in s.execute(q)})
        return out

    def _db_seen_many(self, keys: list[BatchKey]) -> dict[BatchKey, int]:
        out: dict[BatchKey, int] = {}
        with self.registry.session() as s:
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i : i + _CHUNK]
                q = select(_T.c.node, _T.c.epoch, _T.c.seq, _T.c.digest).where(
                    tuple_(_T.c.node, _T.c.epoch, _T.c.seq).in_(chunk)
                )
                out.update({(n, e, q_): d or UNKNOWN_DIGEST for n, e, q_, d in s.execute(q)})
        return out

    async def mark_many(self, keys: Sequence[tuple[BatchKey, int]]) -> None:
        """Record that every batch (key and digest) is safe, in one transaction."""
        for key, content in keys:
            self.recent.mark(key, content)
            pair, seq = (key[0], key[1]), key[2]
            high = self._high.get(pair)
            if high is not None and seq > high:
                self._high[pair] = seq
        if keys:
            await asyncio.to_thread(self._db_mark, list(dict(keys).items()))

    def _db_mark(self, keys: list[tuple[BatchKey, int]]) -> None:
        now = time.time_ns() // 1_000_000
        with self.registry.session() as s, s.begin():
            if s.bind is not None and s.bind.dialect.name == "sqlite":
                # The driver's own executemany: SQLAlchemy's statement and parameter handling cost more than SQLite.
                rows = [(n, e, q, d, now) for (n, e, q), d in keys]
                s.connection().exec_driver_sql(_SQLITE_MARK, rows)
            elif s.bind is not None and s.bind.dialect.name == "postgresql":
                cols = {"n": [k[0] for k, _ in keys], "e": [k[1] for k, _ in keys], "q": [k[2] for k, _ in keys]}
                s.connection().exec_driver_sql(_PG_MARK, {**cols, "d": [d for _, d in keys], "now": now})
            else:  # another SQLAlchemy dialect: its portable upsert, one row at a time
                for (n, e, q), d in keys:
                    s.merge(StoredBatch(node=n, epoch=e, seq=q, digest=d, stored_ms=now))

    async def run_pruning(self, keep_s: float, every_s: float = 600.0) -> None:
        """Forget batches older than ``keep_s`` every ``every_s``, forever (run as a task).

        The ledger must outlive any redelivery: a broker redelivers within the
        hub's reconnect, an agent resends what it never saw acknowledged when it
        reconnects. At 1,000 batches/s a day is 86 M rows, so keep hours, not weeks.
        """
        indexed = False

        async def round_() -> None:
            nonlocal indexed
            if not indexed:
                await asyncio.to_thread(self._ensure_index)
                indexed = True
            await self.prune(time.time_ns() // 1_000_000 - int(keep_s * 1000))

        await Periodic("dedupe ledger pruning", round_, every_s).run()  # a database outage never ends it

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
