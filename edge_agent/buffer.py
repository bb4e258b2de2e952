"""The durable uplink buffer: every reading is written here before it is sent.

One SQLite file in WAL mode per node (tables: :mod:`edge_agent.buffer_schema`).
Readings are numbered in the order they arrive (ids; the uplink's lanes use
them to tell live readings from backlog). Each :meth:`DurableBuffer.put` (one
poll of one device) is one ``readings`` row holding its readings already
encoded as wire fragments (:mod:`edge_agent.fragments`), so a poll costs one
SQLite insert and forming a batch is a concatenation, never a decode and
re-encode.

The *epoch* is drawn at random when the file is created (a new edge box, a
wiped or reflashed state directory) and numbers restart at 0 in it; a file
from before epochs keeps the legacy epoch ``"0"`` and its numbering, so the
hub's ledger still knows its batches.

A batch gets its sequence number when it is *formed*: the readings move from
``readings`` into one ``batches`` row (the exact bytes to publish) in one
transaction, together with the increment of ``next_seq``. A batch re-sent
after a lost connection or a crash therefore carries the same ``seq`` and the
same bytes, and the hub's ``(node, epoch, seq)`` dedupe drops the second copy.
A batch is at most ``max_readings`` readings and ``max_batch_bytes`` long
(under the hub's ``MAX_PAYLOAD_BYTES``): it takes whole rows while they fit
and *splits* the row at which a cap is reached, the rest of that row staying
as a row of its own (same ids); it also carries ``floor``, the lowest seq still held,
so the hub never waits for a batch the caps dropped. A batch row is deleted
only when the hub acknowledges it durable (:meth:`DurableBuffer.ack`, from the
hub's ``IngestAck``): the broker's PUBACK is not enough, since a broker that
crashes loses what it had PUBACKed but not yet written to disk.

Caps: when the stored bytes exceed ``max_bytes`` the oldest rows of readings
(a poll's readings go together), then the oldest unsent batches, are deleted; readings older than ``max_age_s`` too.
Each deleted reading is counted in ``meta.dropped``, which survives restarts;
so is a single reading too large for any batch.

Durability: ``synchronous=NORMAL`` (default) survives a killed process; a
power cut may lose the last commits but never corrupts the file.
``synchronous=FULL`` (``durability: power``) fsyncs every commit.

Calls are synchronous and short (one small transaction); the agent makes them
from its event loop.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from citysense.contract import LEGACY_EPOCH, MAX_PAYLOAD_BYTES, Reading
from edge_agent.batching import Taken, take
from edge_agent.buffer_caps import SIZE_CAP, BufferCaps, clock_ms
from edge_agent.buffer_schema import open_schema
from edge_agent.fragments import poll_body

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Batch:
    """A formed batch: its sequence number and the exact bytes to publish."""

    seq: int
    payload: bytes
    count: int
    last_id: int


class DurableBuffer(BufferCaps):
    """A bounded, persistent FIFO of readings and formed batches of one node."""

    def __init__(
        self,
        path: Path,
        node: str,
        *,
        max_bytes: int = 256 * 1024 * 1024,
        max_age_s: float = 30 * 86400,
        durability: str = "process",
        first_seq: int | None = None,
        max_batch_bytes: int = MAX_PAYLOAD_BYTES,
    ) -> None:
        """Open or create the file; ``first_seq`` (from a pre-buffer counter file) keeps the legacy epoch."""
        self.path, self.node = path, node
        self.max_bytes, self.max_age_ms = max_bytes, int(max_age_s * 1000)
        self.max_batch_bytes = min(max_batch_bytes, MAX_PAYLOAD_BYTES)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durability == 'power' else 'NORMAL'}")
        existed = open_schema(self._db, node)
        # A file from before epochs, or an agent carrying a pre-buffer counter, keeps numbering in the legacy epoch.
        fresh_epoch = LEGACY_EPOCH if existed or first_seq is not None else secrets.token_urlsafe(12)
        with self._tx():
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('next_seq', ?)", (first_seq or 0,))
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('dropped', 0)")
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('acked', -1)")
            self._db.execute("INSERT OR IGNORE INTO state VALUES ('epoch', ?)", (fresh_epoch,))
        (self.epoch,) = self._db.execute("SELECT v FROM state WHERE k = 'epoch'").fetchone()
        (acked,) = self._db.execute("SELECT v FROM meta WHERE k = 'acked'").fetchone()
        self.acked: int = int(acked)
        (self._bytes,) = self._db.execute(
            "SELECT (SELECT coalesce(sum(length(body)), 0) FROM readings)"
            " + (SELECT coalesce(sum(length(payload)), 0) FROM batches)"
        ).fetchone()
        (last,) = self._db.execute("SELECT coalesce(max(first_id + n - 1), 0) FROM readings").fetchone()
        (seq_row,) = self._db.execute("SELECT coalesce(max(first_id + n - 1), 0) FROM batches").fetchone()
        self.last_id: int = max(last, seq_row)  # the id of the newest reading put
        self._episodes: dict[str, int] = {}  # readings dropped per cap in the current episode (for the logs)

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    # --- writing -----------------------------------------------------------------------------------------------
    def put(self, readings: Sequence[Reading]) -> None:
        """Append readings durably (one row, one transaction), then enforce the caps."""
        self.put_many([readings])

    def put_many(self, groups: Sequence[Sequence[Reading]]) -> None:
        """Append groups of readings (one row each) durably in one transaction, then enforce the caps."""
        now, first, size = clock_ms(), self.last_id + 1, 0
        rows: list[tuple[int, int, int, bytes]] = []
        for readings in groups:
            if readings:
                body = poll_body(readings)
                rows.append((first, now, len(readings), body))
                first += len(readings)
                size += len(body)
        if not rows:
            return
        if len(rows) == 1:  # one statement: SQLite commits it as its own transaction (autocommit)
            self._db.execute("INSERT INTO readings VALUES (?, ?, ?, ?)", rows[0])
        else:
            with self._tx():
                self._db.executemany("INSERT INTO readings VALUES (?, ?, ?, ?)", rows)
        self.last_id = first - 1
        self._bytes += size
        if self._bytes > self.max_bytes:
            self._trim_size()
        else:
            self._episode_over(SIZE_CAP)

    # --- batching ----------------------------------------------------------------------------------------------
    def form(self, max_readings: int, *, from_id: int = 0, below_id: int | None = None) -> Batch | None:
        """Move the oldest readings with ``from_id <= id < below_id`` into a new batch with the next seq.

        ``from_id`` and ``below_id`` are row boundaries (``last_id + 1`` at some
        moment, or a batch's ``last_id + 1``). The batch takes at most
        ``max_readings`` readings and ``max_batch_bytes`` bytes, splitting the
        row at which a cap is reached (:mod:`edge_agent.batching`); a reading
        that alone exceeds the byte limit can never be sent and is dropped
        (counted, logged).
        """
        upper = below_id if below_id is not None else self.last_id + 1
        with self._tx():
            (seq,) = self._db.execute("SELECT v FROM meta WHERE k = 'next_seq'").fetchone()
            (floor,) = self._db.execute("SELECT coalesce(min(seq), ?) FROM batches", (seq,)).fetchone()
            now = clock_ms()
            head = f'{{"v":1,"node":"{self.node}","epoch":"{self.epoch}","seq":{seq},"floor":{floor},'
            head += f'"sent_ms":{now},"readings":['
            t = Taken()
            while not t.parts:  # until a batch has readings, or none are left (only oversize ones were met)
                rows = self._db.execute(
                    "SELECT first_id, n, body FROM readings WHERE first_id >= ? AND first_id < ? ORDER BY first_id",
                    (from_id, upper),
                )
                t = take(rows, max_readings, self.max_batch_bytes - len(head) - 2)
                rows.close()
                if t.first_id is None:
                    return None
                self._settle(t)
            payload = b"".join((head.encode(), b",".join(t.parts), b"]}"))
            self._db.execute("INSERT INTO batches VALUES (?, ?, ?, ?, ?)", (seq, now, t.first_id, t.count, payload))
            self._db.execute("UPDATE meta SET v = v + 1 WHERE k = 'next_seq'")
        self._bytes += len(payload)
        assert t.last_id is not None
        return Batch(seq, payload, t.count, t.last_id)

    def _settle(self, t: Taken) -> None:
        """Remove from ``readings`` what the batch took (in the open transaction)."""
        if t.whole_upto is not None:
            self._db.execute("DELETE FROM readings WHERE first_id >= ? AND first_id <= ?", (t.first_id, t.whole_upto))
        if t.rest is not None:
            if t.remainder is None:
                self._db.execute("DELETE FROM readings WHERE first_id = ?", (t.rest[0],))
            else:  # the row keeps its added_ms (the age cap counts from the poll)
                self._db.execute(
                    "UPDATE readings SET first_id = ?, n = ?, body = ? WHERE first_id = ?", (*t.remainder, t.rest[0])
                )
        self._bytes -= t.freed
        if t.oversize:
            log.error("%s: %d readings too large for any batch; dropped", self.node, t.oversize)
            self._db.execute("UPDATE meta SET v = v + ? WHERE k = 'dropped'", (t.oversize,))

    def unacked(self) -> list[Batch]:
        """Batches formed and not yet acknowledged by the hub, oldest first."""
        rows = self._db.execute("SELECT seq, payload, n, first_id FROM batches ORDER BY seq").fetchall()
        return [Batch(seq, bytes(p), n, first) for seq, p, n, first in rows]

    def batches(self, seqs: Sequence[int]) -> list[Batch]:
        """The formed batches among ``seqs`` (those not acknowledged or dropped meanwhile), oldest first."""
        out: list[Batch] = []
        for i in range(0, len(seqs), 500):  # under SQLite's bound-parameter limit
            chunk = list(seqs[i : i + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT seq, payload, n, first_id FROM batches WHERE seq IN ({marks}) ORDER BY seq",  # noqa: S608
                chunk,
            ).fetchall()
            out += [Batch(seq, bytes(p), n, first) for seq, p, n, first in rows]
        return out

    def ack(self, upto: int) -> int:
        """Forget every batch up to seq ``upto``: the hub holds them durable. Return how many went."""
        if upto <= self.acked:
            return 0
        with self._tx():
            (size, n) = self._db.execute(
                "SELECT coalesce(sum(length(payload)), 0), count(*) FROM batches WHERE seq <= ?", (upto,)
            ).fetchone()
            self._db.execute("DELETE FROM batches WHERE seq <= ?", (upto,))
            self._db.execute("UPDATE meta SET v = ? WHERE k = 'acked'", (upto,))
        self.acked = upto
        self._bytes -= size
        return int(n)

    # --- self-telemetry ----------------------------------------------------------------------------------------
    def depth(self) -> int:
        """Readings waiting (unbatched plus in unacknowledged batches)."""
        (n,) = self._db.execute(
            "SELECT (SELECT coalesce(sum(n), 0) FROM readings) + (SELECT coalesce(sum(n), 0) FROM batches)"
        ).fetchone()
        return int(n)

    def oldest_age_s(self, now_ms: int | None = None) -> float:
        """Age of the oldest waiting reading or batch, in seconds (0 when empty)."""
        (r,) = self._db.execute("SELECT min(added_ms) FROM readings").fetchone()
        (b,) = self._db.execute("SELECT min(formed_ms) FROM batches").fetchone()
        oldest = min((x for x in (r, b) if x is not None), default=None)
        if oldest is None:
            return 0.0
        return max(0.0, ((now_ms if now_ms is not None else clock_ms()) - int(oldest)) / 1000)

    def forget(self, seq: int) -> None:
        """Forget batch ``seq`` alone (at the broker's PUBACK, when the broker refuses us the hub's acknowledgments)."""
        with self._tx():
            row = self._db.execute("SELECT length(payload) FROM batches WHERE seq = ?", (seq,)).fetchone()
            self._db.execute("DELETE FROM batches WHERE seq = ?", (seq,))
        if row is not None:
            self._bytes -= row[0]

    def gap_low(self) -> int | None:
        """The lowest seq held when batches right above the hub's acknowledgment were dropped by the caps.

        The hub cannot acknowledge past them until a new batch tells it the
        ``floor``; the uplink then forms one even with its window full.
        """
        (low,) = self._db.execute("SELECT min(seq) FROM batches").fetchone()
        return int(low) if low is not None and low > self.acked + 1 else None

    def unacked_count(self) -> int:
        """Formed batches the hub has not acknowledged."""
        (n,) = self._db.execute("SELECT count(*) FROM batches").fetchone()
        return int(n)

    def oldest_unacked_s(self, now_ms: int | None = None) -> float:
        """Age of the oldest batch the hub has not acknowledged, in seconds (0 when none)."""
        (b,) = self._db.execute("SELECT min(formed_ms) FROM batches").fetchone()
        return 0.0 if b is None else max(0.0, ((now_ms if now_ms is not None else clock_ms()) - int(b)) / 1000)

    @property
    def stored_bytes(self) -> int:
        """Bytes of readings and batches held."""
        return int(self._bytes)
