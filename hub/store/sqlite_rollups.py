"""1-minute and 1-hour rollups and retention for the embedded SQLite store.

Same semantics as the InfluxDB 1.x rollups (:mod:`hub.store.retention`): a
rollup row per device, metric and window whose value is the **mean of the good
numeric readings** in the window (``None`` when none was good) and whose
quality is the **best** (lowest) code seen, so the same readers serve every
resolution. Rows also keep ``n``, ``sum``, ``min`` and ``max``.

Unlike continuous queries, which only look back over their own interval, every
minute a write touches is marked in ``rollup_dirty_m1`` in the write's own
transaction (so a crash cannot lose the mark); :func:`flush` recomputes the
marked minutes from the raw rows into ``rollup_m1`` and marks their hours in
``rollup_dirty_h1``, then the marked hours from the minute rows into
``rollup_h1``. The store flushes minutes every ``FLUSH_MINUTES_EVERY_MS`` and
hours every ``FLUSH_HOURS_EVERY_MS`` from its write path, everything before it
reads a rollup and at close: each window is recomputed a few times an hour,
not at every reading. A
reading that arrives hours late (an agent draining its buffer after an
outage), or a rewrite of the same reading, lands in the rollups exactly once.
A late reading whose minute is past the raw retention is not rolled up: the
raw rows it would be averaged with are gone.

Retention: :func:`purge` deletes raw rows older than ``raw_days`` and rollup
rows older than theirs; the store calls it at most once per
``PURGE_EVERY_MS`` from its write path.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from hub.store.retention import DAY_MS, H1, M1, RetentionSettings

MINUTE_MS, HOUR_MS = 60_000, 3_600_000
PURGE_EVERY_MS = HOUR_MS
FLUSH_MINUTES_EVERY_MS = 60_000  # a minute reported every 10 s is recomputed about once, not six times
FLUSH_HOURS_EVERY_MS = 600_000
WIDTH_MS = {M1: MINUTE_MS, H1: HOUR_MS}

_ROLLUP_TABLE = """
CREATE TABLE IF NOT EXISTS rollup_{rp} (
    device TEXT NOT NULL, metric TEXT NOT NULL, ts_ms INTEGER NOT NULL, node TEXT NOT NULL,
    profile TEXT NOT NULL, unit TEXT NOT NULL, tags TEXT NOT NULL, quality INTEGER NOT NULL,
    n INTEGER NOT NULL, sum REAL, min REAL, max REAL,
    PRIMARY KEY (device, ts_ms, metric)
) WITHOUT ROWID;
"""
_DIRTY_TABLE = """
CREATE TABLE IF NOT EXISTS rollup_dirty_{rp} (
    device TEXT NOT NULL, metric TEXT NOT NULL, ts_ms INTEGER NOT NULL, PRIMARY KEY (device, metric, ts_ms)
) WITHOUT ROWID;
"""
SCHEMA = "".join(t.format(rp=rp) for rp in (M1, H1) for t in (_ROLLUP_TABLE, _DIRTY_TABLE))

# One minute window of one device's metric, from the raw rows. Good (quality 0) numeric values only are averaged;
# typeof() keeps text points out, as InfluxDB's mean() does. Nothing is written for a window with no raw row left.
_M1_FROM_RAW = """
INSERT OR REPLACE INTO rollup_m1 (device, metric, ts_ms, node, profile, unit, tags, quality, n, sum, min, max)
SELECT device, metric, :start, max(node), max(profile), max(unit), max(tags), min(quality),
       count(CASE WHEN quality = 0 AND typeof(value) IN ('integer', 'real') THEN 1 END),
       sum(CASE WHEN quality = 0 AND typeof(value) IN ('integer', 'real') THEN value END),
       min(CASE WHEN quality = 0 AND typeof(value) IN ('integer', 'real') THEN value END),
       max(CASE WHEN quality = 0 AND typeof(value) IN ('integer', 'real') THEN value END)
FROM readings
WHERE device = :device AND ts_ms >= :start AND ts_ms < :start + 60000 AND metric = :metric
  AND typeof(value) IN ('integer', 'real', 'null')
GROUP BY device, metric
"""
_H1_FROM_M1 = """
INSERT OR REPLACE INTO rollup_h1 (device, metric, ts_ms, node, profile, unit, tags, quality, n, sum, min, max)
SELECT device, metric, :start, max(node), max(profile), max(unit), max(tags), min(quality),
       sum(n), sum(sum), min(min), max(max)
FROM rollup_m1
WHERE device = :device AND ts_ms >= :start AND ts_ms < :start + 3600000 AND metric = :metric
GROUP BY device, metric
"""
SELECT_ROLLUP = "SELECT device, ts_ms, metric, node, profile, CASE WHEN n > 0 THEN sum / n END, unit, quality, tags"

Window = tuple[str, str, int]  # device, metric, window start (ms)


def touched(keys: Iterable[Window], width_ms: int) -> set[Window]:
    """The windows of ``width_ms`` that readings ``(device, metric, ts_ms)`` fall into."""
    return {(d, m, ts - ts % width_ms) for d, m, ts in keys}


def mark(conn: sqlite3.Connection, keys: Iterable[Window], now_ms: int, r: RetentionSettings) -> None:
    """Mark the minutes of the written readings for recomputation (inside the caller's transaction)."""
    raw_floor = now_ms - r.raw_days * DAY_MS
    minutes = [w for w in touched(keys, MINUTE_MS) if w[2] >= raw_floor]
    conn.executemany("INSERT OR IGNORE INTO rollup_dirty_m1 (device, metric, ts_ms) VALUES (?, ?, ?)", minutes)


def flush(conn: sqlite3.Connection, *, hours: bool = True) -> int:
    """Recompute the marked minutes (and, with ``hours``, the marked hours); return how many windows.

    Each level runs in its own transaction; a recomputed minute marks its hour.
    """
    done = 0
    for rp, sql in ((M1, _M1_FROM_RAW), (H1, _H1_FROM_M1)):
        if rp == H1 and not hours:
            break
        with conn:
            conn.execute("BEGIN")
            windows = conn.execute(f"SELECT device, metric, ts_ms FROM rollup_dirty_{rp}").fetchall()  # noqa: S608
            conn.executemany(sql, [{"device": d, "metric": m, "start": t} for d, m, t in windows])
            conn.execute(f"DELETE FROM rollup_dirty_{rp}")  # noqa: S608
            if rp == M1:
                up = "INSERT OR IGNORE INTO rollup_dirty_h1 (device, metric, ts_ms) VALUES (?, ?, ?)"
                conn.executemany(up, sorted(touched(windows, HOUR_MS)))
        done += len(windows)
    return done


def purge(conn: sqlite3.Connection, now_ms: int, r: RetentionSettings) -> int:
    """Delete what is past its retention, device by device (each a primary-key range); return the row count."""
    devices = [d for (d,) in conn.execute("SELECT DISTINCT device FROM latest")]
    removed = 0
    for table, days in (
        ("readings", r.raw_days),
        (f"rollup_{M1}", r.rollup_1m_days),
        (f"rollup_{H1}", r.rollup_1h_days),
    ):
        if days is None:
            continue
        sql = f"DELETE FROM {table} WHERE device = ? AND ts_ms < ?"  # noqa: S608  (table names are constants)
        floor = now_ms - days * DAY_MS
        removed += sum(conn.execute(sql, (d, floor)).rowcount for d in devices)
    return removed
