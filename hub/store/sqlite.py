"""The embedded default store: one SQLite file in WAL mode, driven from one worker thread.

The stdlib ``sqlite3`` blocks, so the connection lives in a single-thread
executor and every call is awaited from there: the event loop never waits on
disk. Two tables:

``readings``  every reading; primary key ``(device, ts_ms, metric)`` makes a
              rewrite replace the first write (idempotent) and serves range
              queries in the order they are returned, without a sort.
``latest``    the newest reading per ``(device, metric)``, upserted in the same
              transaction, so :meth:`SqliteStore.latest` reads one row per
              metric instead of scanning history.

``rollup_m1``, ``rollup_h1``  1-minute and 1-hour means, recomputed for the
              windows each write touches, in the same transaction; old rows
              are purged by retention (:mod:`hub.store.sqlite_rollups`).
              :meth:`SqliteStore.query_resolved` reads the resolution that
              fits the range, as the InfluxDB store does.

The ``value`` column has no declared type (BLOB affinity): SQLite keeps floats
as REAL and strings as TEXT without converting either.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from citysense.quality import Quality
from hub.store import sqlite_rollups as rollups
from hub.store.base import Store, StoredReading, check_value
from hub.store.errors import StoreRejected, StoreUnavailable
from hub.store.retention import RAW, RetentionSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    device TEXT NOT NULL, ts_ms INTEGER NOT NULL, metric TEXT NOT NULL, node TEXT NOT NULL,
    profile TEXT NOT NULL, value, unit TEXT NOT NULL, quality INTEGER NOT NULL, tags TEXT NOT NULL,
    PRIMARY KEY (device, ts_ms, metric)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS latest (
    device TEXT NOT NULL, ts_ms INTEGER NOT NULL, metric TEXT NOT NULL, node TEXT NOT NULL,
    profile TEXT NOT NULL, value, unit TEXT NOT NULL, quality INTEGER NOT NULL, tags TEXT NOT NULL,
    PRIMARY KEY (device, metric)
) WITHOUT ROWID;
"""
_INSERT = (
    "INSERT OR REPLACE INTO readings (device, ts_ms, metric, node, profile, value, unit, quality, tags) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPSERT_LATEST = (
    "INSERT INTO latest (device, ts_ms, metric, node, profile, value, unit, quality, tags) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (device, metric) DO UPDATE SET ts_ms = excluded.ts_ms, node = excluded.node, "
    "profile = excluded.profile, value = excluded.value, unit = excluded.unit, quality = excluded.quality, "
    "tags = excluded.tags WHERE excluded.ts_ms >= latest.ts_ms"
)
_EMIT = "CREATE TEMP TABLE IF NOT EXISTS emit (d TEXT, m TEXT, t INTEGER, PRIMARY KEY (d, m, t)) WITHOUT ROWID"
_SELECT = "SELECT device, ts_ms, metric, node, profile, value, unit, quality, tags"
DEVICES_PER_QUERY = 500
Row = tuple[Any, ...]


def _row(r: StoredReading) -> Row:
    tags = json.dumps(dict(r.tags), sort_keys=True, ensure_ascii=False) if r.tags else "{}"
    return (r.device, r.ts_ms, r.metric, r.node, r.profile, r.value, r.unit, int(r.quality), tags)


def _reading(row: Row) -> StoredReading:
    device, ts_ms, metric, node, profile, value, unit, quality, tags = row
    return StoredReading(
        node=node,
        device=device,
        profile=profile,
        metric=metric,
        value=value,
        unit=unit,
        ts_ms=ts_ms,
        quality=Quality(quality),
        tags=json.loads(tags),
    )


class SqliteStore(Store):
    """Readings in one SQLite database file."""

    def __init__(
        self,
        path: Path | str,
        *,
        busy_timeout_s: float = 5.0,
        retention: RetentionSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self.retention = retention  # None: raw rows only, kept forever
        self.clock = clock
        self._purged_ms = self._flushed_ms = self._flushed_hours_ms = 0
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._executor is None or self._conn is None:
            raise RuntimeError("SqliteStore used before start() or after close()")
        conn = self._conn
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, conn)
        except sqlite3.OperationalError as exc:  # locked, disk full, I/O error: may pass
            raise StoreUnavailable(f"{self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreRejected(f"{self.path}: {exc}") from exc

    async def start(self) -> None:
        """Open (creating if needed) the database file in WAL mode and create the tables."""
        if self._executor is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")

        def open_db() -> sqlite3.Connection:
            # Created in the worker thread, so sqlite3's same-thread check holds for every later call.
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; WAL survives a process crash
            conn.executescript(_SCHEMA + rollups.SCHEMA)
            return conn

        try:
            self._conn = await asyncio.get_running_loop().run_in_executor(self._executor, open_db)
        except sqlite3.Error as exc:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise StoreUnavailable(f"{self.path}: {exc}") from exc

    async def close(self) -> None:
        """Close the connection and stop the worker thread."""
        if self._executor is None:
            return
        if self._conn is not None:
            if self.retention is not None:
                await self._run(rollups.flush)
            await self._run(lambda conn: conn.close())
        self._executor.shutdown(wait=False)
        self._executor, self._conn = None, None

    async def write(self, readings: Sequence[StoredReading]) -> None:
        """Insert or replace the readings and move ``latest`` forward, in one transaction."""
        newest: dict[tuple[str, str], StoredReading] = {}
        for r in readings:
            check_value(r)
            held = newest.get((r.device, r.metric))
            if held is None or r.ts_ms >= held.ts_ms:
                newest[(r.device, r.metric)] = r
        rows = [_row(r) for r in readings]
        latest_rows = [_row(r) for r in newest.values()]

        keep = self.retention
        keys = [(r.device, r.metric, r.ts_ms) for r in readings] if keep is not None else []
        now_ms = int(self.clock() * 1000)

        def insert(conn: sqlite3.Connection) -> None:
            with conn:  # BEGIN ... COMMIT, or ROLLBACK on error
                conn.execute("BEGIN")
                conn.executemany(_INSERT, rows)
                conn.executemany(_UPSERT_LATEST, latest_rows)
                if keep is not None:
                    rollups.mark(conn, keys, now_ms, keep)
            if keep is not None:
                self._maintain(conn, now_ms, keep)

        if rows:
            await self._run(insert)

    def _maintain(self, conn: sqlite3.Connection, now_ms: int, keep: RetentionSettings) -> None:
        """Recompute marked rollup windows and purge expired rows when their periods are due (worker thread)."""
        if now_ms - self._flushed_ms >= rollups.FLUSH_MINUTES_EVERY_MS:
            hours = now_ms - self._flushed_hours_ms >= rollups.FLUSH_HOURS_EVERY_MS
            rollups.flush(conn, hours=hours)
            self._flushed_ms = now_ms
            if hours:
                self._flushed_hours_ms = now_ms
        if now_ms - self._purged_ms >= rollups.PURGE_EVERY_MS:
            with conn:
                conn.execute("BEGIN")
                removed = rollups.purge(conn, now_ms, keep)
            self._purged_ms = now_ms
            if removed:
                log.info("%s: %d rows past their retention deleted", self.path, removed)

    async def query_range(
        self,
        device: str,
        profile: str,
        metrics: Sequence[str] | None,
        start_ms: int,
        end_ms: int,
        limit: int = 10_000,
        resolution: str = RAW,
    ) -> list[StoredReading]:
        """Return the device's readings in ``[start_ms, end_ms)``, by time then metric.

        A rollup resolution reads ``rollup_m1`` or ``rollup_h1``, after recomputing what was just written.
        """
        if limit < 1 or start_ms >= end_ms or (metrics is not None and not metrics):
            return []
        table, select = "readings", _SELECT
        if resolution != RAW:
            if self.resolutions() is None or resolution not in rollups.WIDTH_MS:
                raise ValueError(f"{self.path}: no rollups at resolution {resolution!r}")
            await self._run(rollups.flush)
            table, select = f"rollup_{resolution}", rollups.SELECT_ROLLUP
        sql = f"{select} FROM {table} WHERE device = ? AND ts_ms >= ? AND ts_ms < ? AND profile = ?"
        args: list[Any] = [device, start_ms, end_ms, profile]
        if metrics is not None:
            wanted = sorted(set(metrics))  # only "?" placeholders are formatted into the SQL
            sql += f" AND metric IN ({','.join('?' * len(wanted))})"
            args += wanted
        sql += " ORDER BY ts_ms, metric LIMIT ?"
        args.append(limit)
        rows = await self._run(lambda conn: conn.execute(sql, args).fetchall())
        return [_reading(row) for row in rows]

    def resolutions(self) -> RetentionSettings | None:
        """What this file keeps beside raw rows (``retention``), or ``None``."""
        return self.retention

    async def windows_of(self, readings: Sequence[StoredReading]) -> dict[str, list[StoredReading]]:
        """Recompute pending rollups now; return the ``m1`` and ``h1`` rollup readings the readings fall in."""
        keys = [(r.device, r.metric, r.ts_ms) for r in readings if not isinstance(r.value, str)]

        def select(conn: sqlite3.Connection) -> dict[str, list[Row]]:
            rollups.flush(conn)
            conn.execute(_EMIT)
            out: dict[str, list[Row]] = {}
            for rp, width in rollups.WIDTH_MS.items():
                conn.execute("DELETE FROM temp.emit")
                conn.executemany("INSERT INTO temp.emit VALUES (?, ?, ?)", rollups.touched(keys, width))
                join = f"JOIN rollup_{rp} ON device = d AND ts_ms = t AND metric = m"
                sql = f"{rollups.SELECT_ROLLUP} FROM temp.emit {join}"
                out[rp] = conn.execute(sql).fetchall()
            return out

        found = await self._run(select) if self.retention is not None and keys else {}
        return {rp: [_reading(row) for row in rows] for rp, rows in found.items()}

    async def latest(self, devices: Sequence[tuple[str, str]]) -> dict[str, dict[str, StoredReading]]:
        """Return device uid -> metric -> newest reading, from the ``latest`` table."""
        wanted = set(devices)
        uids = sorted({d for d, _ in wanted})

        def select(conn: sqlite3.Connection) -> list[Row]:
            rows: list[Row] = []
            for i in range(0, len(uids), DEVICES_PER_QUERY):
                chunk = uids[i : i + DEVICES_PER_QUERY]
                sql = f"{_SELECT} FROM latest WHERE device IN ({','.join('?' * len(chunk))})"
                rows += conn.execute(sql, chunk).fetchall()
            return rows

        out: dict[str, dict[str, StoredReading]] = {}
        for row in await self._run(select) if uids else []:
            r = _reading(row)
            if (r.device, r.profile) in wanted:
                out.setdefault(r.device, {})[r.metric] = r
        return out
