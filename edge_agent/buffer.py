"""The durable uplink buffer: every reading is written here before it is sent.

One SQLite file in WAL mode per node, three tables::

    readings(id, added_ms, body)          readings not yet in a batch (body = JSON of one Reading)
    batches(seq, formed_ms, first_id, n, payload)
                                          formed batches awaiting the broker's PUBACK
    meta(k, v)                            next_seq, dropped

A batch gets its sequence number when it is *formed*: the readings move from
``readings`` into one ``batches`` row (the exact bytes to publish) in one
transaction, together with the increment of ``next_seq``. A batch re-sent
after a lost connection or a crash therefore carries the same ``seq`` and the
same bytes, and the hub's ``(node, seq)`` dedupe drops the second copy. A
batch row is deleted only after PUBACK (:meth:`DurableBuffer.ack`).

Caps: when the stored bytes exceed ``max_bytes`` the oldest readings (then the
oldest unsent batches) are deleted; readings older than ``max_age_s`` too.
Each deleted reading is counted in ``meta.dropped``, which survives restarts.

Durability: ``synchronous=NORMAL`` (default) survives a killed process; a
power cut may lose the last commits but never corrupts the file.
``synchronous=FULL`` (``durability: power``) fsyncs every commit.

Calls are synchronous and short (one small transaction); the agent makes them
from its event loop.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from citysense.contract import Reading, encode

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings(id INTEGER PRIMARY KEY AUTOINCREMENT, added_ms INTEGER NOT NULL,
                                    body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches(seq INTEGER PRIMARY KEY, formed_ms INTEGER NOT NULL, first_id INTEGER NOT NULL,
                                   n INTEGER NOT NULL, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Batch:
    """A formed batch: its sequence number and the exact bytes to publish."""

    seq: int
    payload: bytes
    count: int
    last_id: int


log = logging.getLogger(__name__)
SIZE_CAP, AGE_CAP = "size cap (buffer_max_mb)", "age cap (buffer_max_age_s)"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class DurableBuffer:
    """A bounded, persistent FIFO of readings and formed batches of one node."""

    def __init__(
        self,
        path: Path,
        node: str,
        *,
        max_bytes: int = 256 * 1024 * 1024,
        max_age_s: float = 30 * 86400,
        durability: str = "process",
        first_seq: int = 0,
    ) -> None:
        self.path, self.node = path, node
        self.max_bytes, self.max_age_ms = max_bytes, int(max_age_s * 1000)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durability == 'power' else 'NORMAL'}")
        self._db.executescript(_SCHEMA)
        with self._tx():
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('next_seq', ?)", (first_seq,))
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('dropped', 0)")
        (self._bytes,) = self._db.execute(
            "SELECT (SELECT coalesce(sum(length(body)), 0) FROM readings)"
            " + (SELECT coalesce(sum(length(payload)), 0) FROM batches)"
        ).fetchone()
        (last,) = self._db.execute("SELECT coalesce(max(id), 0) FROM readings").fetchone()
        (seq_row,) = self._db.execute("SELECT coalesce(max(first_id), 0) FROM batches").fetchone()
        self.last_id: int = max(last, seq_row)
        self._episodes: dict[str, int] = {}  # readings dropped per cap in the current episode (for the logs)

    def _tx(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    # --- writing -----------------------------------------------------------------------------------------------
    def put(self, readings: Sequence[Reading]) -> None:
        """Append readings durably (one transaction), then enforce the caps."""
        if not readings:
            return
        now = _now_ms()
        rows = [(now, encode(r).decode()) for r in readings]
        with self._tx():
            self._db.executemany("INSERT INTO readings(added_ms, body) VALUES (?, ?)", rows)
            (self.last_id,) = self._db.execute("SELECT last_insert_rowid()").fetchone()
        self._bytes += sum(len(b) for _, b in rows)
        if self._bytes > self.max_bytes:
            self._trim_size()
        else:
            self._episode_over(SIZE_CAP)

    def _drop(self, n: int, why: str = SIZE_CAP) -> None:
        """Count dropped readings; log once when an episode of drops for ``why`` starts (see _episode_over)."""
        if n:
            self._db.execute("UPDATE meta SET v = v + ? WHERE k = 'dropped'", (n,))
            if why not in self._episodes:
                log.warning("%s: buffer %s reached: dropping the oldest readings", self.node, why)
            self._episodes[why] = self._episodes.get(why, 0) + n

    def _episode_over(self, why: str) -> None:
        """Log once, with the count, that the drops for ``why`` stopped."""
        n = self._episodes.pop(why, 0)
        if n:
            log.warning(
                "%s: buffer %s no longer dropping; %d readings were dropped (%d since the buffer was created)",
                self.node, why, n, self.dropped,
            )  # fmt: skip

    def _trim_size(self) -> None:
        # Drop oldest first: the newest data is the most useful after a long outage.
        with self._tx():
            while self._bytes > self.max_bytes:
                rows = self._db.execute("SELECT id, length(body) FROM readings ORDER BY id LIMIT 1000").fetchall()
                if rows:
                    freed, n, upto = 0, 0, rows[-1][0]
                    for rid, size in rows:
                        freed += size
                        n += 1
                        if self._bytes - freed <= self.max_bytes:
                            upto = rid
                            break
                    self._db.execute("DELETE FROM readings WHERE id <= ?", (upto,))
                    self._bytes -= freed
                    self._drop(n)
                    continue
                old = self._db.execute("SELECT seq, length(payload), n FROM batches ORDER BY seq LIMIT 1").fetchone()
                if old is None:
                    self._bytes = 0
                    return
                self._db.execute("DELETE FROM batches WHERE seq = ?", (old[0],))
                self._bytes -= old[1]
                self._drop(old[2])

    def expire(self, now_ms: int | None = None) -> int:
        """Delete readings and unsent batches older than ``max_age_s``; return how many readings went."""
        limit = (now_ms if now_ms is not None else _now_ms()) - self.max_age_ms
        with self._tx():
            (rbytes, rn) = self._db.execute(
                "SELECT coalesce(sum(length(body)), 0), count(*) FROM readings WHERE added_ms < ?", (limit,)
            ).fetchone()
            self._db.execute("DELETE FROM readings WHERE added_ms < ?", (limit,))
            (bbytes, bn) = self._db.execute(
                "SELECT coalesce(sum(length(payload)), 0), coalesce(sum(n), 0) FROM batches WHERE formed_ms < ?",
                (limit,),
            ).fetchone()
            self._db.execute("DELETE FROM batches WHERE formed_ms < ?", (limit,))
            self._bytes -= rbytes + bbytes
            self._drop(rn + bn, AGE_CAP)
        if not rn + bn:
            self._episode_over(AGE_CAP)
        return int(rn + bn)

    # --- batching ----------------------------------------------------------------------------------------------
    def form(self, max_readings: int, *, from_id: int = 0, below_id: int | None = None) -> Batch | None:
        """Move the oldest readings with ``from_id <= id < below_id`` into a new batch with the next seq."""
        upper = below_id if below_id is not None else self.last_id + 1
        with self._tx():
            rows = self._db.execute(
                "SELECT id, body FROM readings WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
                (from_id, upper, max_readings),
            ).fetchall()
            if not rows:
                return None
            (seq,) = self._db.execute("SELECT v FROM meta WHERE k = 'next_seq'").fetchone()
            now = _now_ms()
            head = f'{{"v":1,"node":"{self.node}","seq":{seq},"sent_ms":{now},"readings":['
            payload = (head + ",".join(body for _, body in rows) + "]}").encode()
            first, last = rows[0][0], rows[-1][0]
            self._db.execute("DELETE FROM readings WHERE id >= ? AND id <= ?", (first, last))
            self._db.execute("INSERT INTO batches VALUES (?, ?, ?, ?, ?)", (seq, now, first, len(rows), payload))
            self._db.execute("UPDATE meta SET v = v + 1 WHERE k = 'next_seq'")
        self._bytes += len(payload) - sum(len(b) for _, b in rows)
        return Batch(seq, payload, len(rows), last)

    def unacked(self) -> list[Batch]:
        """Batches formed earlier (before a crash or a lost connection) and never acknowledged, oldest first."""
        rows = self._db.execute("SELECT seq, payload, n, first_id FROM batches ORDER BY seq").fetchall()
        return [Batch(seq, bytes(p), n, first) for seq, p, n, first in rows]

    def ack(self, seq: int) -> None:
        """Forget batch ``seq``: the broker has acknowledged it."""
        with self._tx():
            row = self._db.execute("SELECT length(payload) FROM batches WHERE seq = ?", (seq,)).fetchone()
            self._db.execute("DELETE FROM batches WHERE seq = ?", (seq,))
        if row is not None:
            self._bytes -= row[0]

    # --- self-telemetry ----------------------------------------------------------------------------------------
    def depth(self) -> int:
        """Readings waiting (unbatched plus in unacknowledged batches)."""
        (n,) = self._db.execute(
            "SELECT (SELECT count(*) FROM readings) + (SELECT coalesce(sum(n), 0) FROM batches)"
        ).fetchone()
        return int(n)

    def oldest_age_s(self, now_ms: int | None = None) -> float:
        """Age of the oldest waiting reading or batch, in seconds (0 when empty)."""
        (r,) = self._db.execute("SELECT min(added_ms) FROM readings").fetchone()
        (b,) = self._db.execute("SELECT min(formed_ms) FROM batches").fetchone()
        oldest = min((x for x in (r, b) if x is not None), default=None)
        if oldest is None:
            return 0.0
        return max(0.0, ((now_ms if now_ms is not None else _now_ms()) - int(oldest)) / 1000)

    @property
    def dropped(self) -> int:
        """Readings dropped by the caps since the file was created."""
        (n,) = self._db.execute("SELECT v FROM meta WHERE k = 'dropped'").fetchone()
        return int(n)

    @property
    def stored_bytes(self) -> int:
        """Bytes of readings and batches held."""
        return int(self._bytes)
