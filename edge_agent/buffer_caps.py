"""The buffer's caps: the size cap trims the oldest readings, the age cap expires old rows and batches.

Every reading a cap deletes is counted in ``meta.dropped`` (which survives
restarts); the log gets one WARNING when an episode of drops for a cap
starts and one, with the count, when it ends, not one per reading. The size
cap deletes whole rows (a poll's readings) while that keeps the buffer above
its limit, and only the oldest readings of the row at which it stops, so a
poll larger than the cap keeps its newest readings.
"""

from __future__ import annotations

import logging
import sqlite3
import time

log = logging.getLogger("edge_agent.buffer")
SIZE_CAP, AGE_CAP = "size cap (buffer_max_mb)", "age cap (buffer_max_age_s)"


def clock_ms() -> int:
    """Unix time in milliseconds."""
    return time.time_ns() // 1_000_000


class BufferCaps:
    """The cap and drop accounting of :class:`~edge_agent.buffer.DurableBuffer` (its base class)."""

    node: str
    max_bytes: int
    max_age_ms: int
    _db: sqlite3.Connection
    _bytes: int
    _episodes: dict[str, int]  # readings dropped per cap in the current episode (for the logs)

    def _tx(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

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
                rows = self._db.execute(
                    "SELECT first_id, length(body), n FROM readings ORDER BY first_id LIMIT 1000"
                ).fetchall()
                if rows:
                    freed, n, upto = 0, 0, None
                    for rid, size, count in rows:
                        over = self._bytes - freed - self.max_bytes
                        if size > over and count > 1:  # the whole row is more than needed: its oldest readings only
                            cut_n, cut_bytes = self._cut_row(rid, over)
                            n, freed = n + cut_n, freed + cut_bytes
                            break
                        freed, n, upto = freed + size, n + count, rid
                        if self._bytes - freed <= self.max_bytes:
                            break
                    if upto is not None:
                        self._db.execute("DELETE FROM readings WHERE first_id <= ?", (upto,))
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

    def _cut_row(self, first_id: int, at_least: int) -> tuple[int, int]:
        """Drop the oldest readings of one row, freeing at least ``at_least`` bytes; return (readings, bytes)."""
        (body,) = self._db.execute("SELECT body FROM readings WHERE first_id = ?", (first_id,)).fetchone()
        frags = body.split(b"\n")
        k, freed = 0, 0
        while freed < at_least and k < len(frags) - 1:
            freed += len(frags[k]) + 1  # the fragment and its newline
            k += 1
        rest = body[freed:]
        self._db.execute("UPDATE readings SET first_id = ?, n = ?, body = ? WHERE first_id = ?",
                         (first_id + k, len(frags) - k, rest, first_id))  # fmt: skip
        return k, freed

    def expire(self, now_ms: int | None = None) -> int:
        """Delete readings and unsent batches older than ``max_age_s``; return how many readings went."""
        limit = (now_ms if now_ms is not None else clock_ms()) - self.max_age_ms
        with self._tx():
            (rbytes, rn) = self._db.execute(
                "SELECT coalesce(sum(length(body)), 0), coalesce(sum(n), 0) FROM readings WHERE added_ms < ?", (limit,)
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

    @property
    def dropped(self) -> int:
        """Readings dropped by the caps since the file was created."""
        (n,) = self._db.execute("SELECT v FROM meta WHERE k = 'dropped'").fetchone()
        return int(n)
