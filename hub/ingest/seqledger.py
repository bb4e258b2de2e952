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
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import BigInteger, Integer, String, delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from hub.ingest.dedupe import SeqWindow
from hub.registry.models import Base
from hub.registry.service import Registry


class StoredBatch(Base):
    """One batch the hub has stored or spooled."""

    __tablename__ = "ingest_stored_batches"
    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    stored_ms: Mapped[int] = mapped_column(Integer, index=True)


class SeqLedger:
    """Persistent dedupe of batches on ``(node, seq)``."""

    def __init__(self, registry: Registry, window: int = 4096) -> None:
        self.registry = registry
        self.recent = SeqWindow(window)

    async def seen(self, node: str, seq: int) -> bool:
        """True when ``(node, seq)`` was stored by this or any worker, now or before a restart."""
        if self.recent.seen(node, seq):
            return True
        return await asyncio.to_thread(self._db_seen, node, seq)

    def _db_seen(self, node: str, seq: int) -> bool:
        with self.registry.session() as s:
            return s.scalar(select(StoredBatch.seq).where(StoredBatch.node == node, StoredBatch.seq == seq)) is not None

    async def mark(self, node: str, seq: int) -> None:
        """Record that ``(node, seq)`` is safe."""
        self.recent.mark(node, seq)
        await asyncio.to_thread(self._db_mark, node, seq)

    def _db_mark(self, node: str, seq: int) -> None:
        now = time.time_ns() // 1_000_000
        with self.registry.session() as s, s.begin():
            if s.bind is not None and s.bind.dialect.name == "sqlite":
                stmt = sqlite_insert(StoredBatch).values(node=node, seq=seq, stored_ms=now).on_conflict_do_nothing()
                s.execute(stmt)
            else:
                s.merge(StoredBatch(node=node, seq=seq, stored_ms=now))

    async def prune(self, older_than_ms: int) -> None:
        """Forget batches stored before ``older_than_ms`` (agents never resend that far back)."""
        await asyncio.to_thread(self._db_prune, older_than_ms)

    def _db_prune(self, older_than_ms: int) -> None:
        with self.registry.session() as s, s.begin():
            s.execute(delete(StoredBatch).where(StoredBatch.stored_ms < older_than_ms))
