"""A bounded on-disk queue of reading batches the store could not take yet.

When the store is unreachable, :class:`Spool` keeps each batch in a SQLite
file (WAL, ``synchronous=FULL`` so a committed batch survives a power cut)
under the hub's data directory; the MQTT message is acknowledged only once its
batch is committed here or written to the store. The spool drains oldest
first, so the store receives batches in the order they arrived. It holds at
most ``max_readings`` readings; when full, :meth:`put` refuses and the caller
keeps the message unacknowledged, so the broker holds it instead.

Errors: :class:`SpoolUnavailable` (a :class:`hub.store.errors.StoreUnavailable`,
so the caller treats it as "not safe yet": the message stays unacknowledged)
when SQLite cannot write or read the file (the disk full, an I/O error), and its
:class:`SpoolFull` when over the bound.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from citysense.quality import Quality
from hub.store.base import StoredReading
from hub.store.errors import StoreUnavailable

_T = TypeVar("_T")


class SpoolUnavailable(StoreUnavailable):
    """The spool's file cannot be written or read now (SQLITE_FULL: the disk is full; SQLITE_IOERR)."""


class SpoolFull(SpoolUnavailable):
    """The spool holds ``max_readings`` already."""


def _dump(readings: Sequence[StoredReading]) -> str:
    return json.dumps(
        [
            [r.node, r.device, r.profile, r.metric, r.value, r.unit, r.ts_ms, int(r.quality), dict(r.tags)]
            for r in readings
        ],
        ensure_ascii=False,
    )


def _load(text: str) -> list[StoredReading]:
    return [
        StoredReading(node=n, device=d, profile=p, metric=m, value=v, unit=u, ts_ms=ts, quality=Quality(q), tags=tags)
        for n, d, p, m, v, u, ts, q, tags in json.loads(text)
    ]


class Spool:
    """Batches waiting for the store, oldest first."""

    def __init__(self, path: Path, *, max_readings: int = 5_000_000) -> None:
        self.path = path
        self.max_readings = max_readings
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL, body TEXT)"
        )
        row = self._conn.execute("SELECT COUNT(*), COALESCE(SUM(n), 0) FROM spool").fetchone()
        self.batches, self.readings = int(row[0]), int(row[1])
        self.spooled_total = 0
        self.drained_total = 0
        self.nonempty = asyncio.Event()
        self.empty = asyncio.Event()
        (self.nonempty if self.batches else self.empty).set()

    def close(self) -> None:
        """Close the file; committed batches stay for the next start."""
        self._conn.close()

    async def put(self, readings: Sequence[StoredReading]) -> None:
        """Commit one batch to disk; raise :class:`SpoolFull` when over the bound."""
        if self.readings + len(readings) > self.max_readings:
            raise SpoolFull(f"{self.path}: spool full ({self.readings} readings)")
        body = _dump(readings)
        await self._io(self._insert, len(readings), body)
        self.batches += 1
        self.readings += len(readings)
        self.spooled_total += len(readings)
        self.empty.clear()
        self.nonempty.set()

    async def _io(self, fn: Callable[..., _T], *args: object) -> _T:
        try:
            return await asyncio.to_thread(fn, *args)
        except sqlite3.Error as exc:  # the disk full or failing: nothing was committed, the caller holds on
            raise SpoolUnavailable(f"{self.path}: {exc}") from exc

    def _insert(self, n: int, body: str) -> None:
        with self._lock:
            self._conn.execute("INSERT INTO spool (n, body) VALUES (?, ?)", (n, body))

    async def peek(self) -> tuple[int, list[StoredReading]] | None:
        """Return the oldest batch and its id, or ``None`` when empty."""
        row = await self._io(self._oldest)
        return None if row is None else (row[0], _load(row[1]))

    def _oldest(self) -> tuple[int, str] | None:
        with self._lock:
            row = self._conn.execute("SELECT id, body FROM spool ORDER BY id LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    async def remove(self, batch_id: int, n: int) -> None:
        """Forget a batch once the store holds it."""
        await self._io(self._delete, batch_id)
        self.batches -= 1
        self.readings -= n
        self.drained_total += n
        if self.batches == 0:
            self.nonempty.clear()
            self.empty.set()

    def _delete(self, batch_id: int) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM spool WHERE id = ?", (batch_id,))
