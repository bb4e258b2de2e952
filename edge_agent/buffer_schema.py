"""The durable buffer's SQLite schema, and the upgrade of a file written by an older agent.

Format 2 (``PRAGMA user_version = 2``) keeps one ``readings`` row per group of
readings handed over together (one poll of one device)::

    readings(first_id, added_ms, n, body)   the readings numbered first_id .. first_id + n - 1;
                                            body = their wire fragments (edge_agent.fragments), one per line
    batches(seq, formed_ms, first_id, n, payload)
    meta(k, v)                              next_seq, dropped, acked
    state(k, v)                             epoch

Format 1 (agents before it; ``user_version`` 0) had one row per reading,
``readings(id, added_ms, body)`` with body the reading's JSON. Its ``batches``,
``meta`` and ``state`` are the same. :func:`open_schema` upgrades such a file
in one transaction: every old reading becomes a row with ``n = 1`` under its
old id, so nothing is lost and the order is kept; a crash during the upgrade
leaves the old file as it was (SQLite rolls the transaction back) and the next
start upgrades it again.
"""

from __future__ import annotations

import logging
import sqlite3

log = logging.getLogger(__name__)

FORMAT = 2
_TABLES = """
CREATE TABLE IF NOT EXISTS readings(first_id INTEGER PRIMARY KEY, added_ms INTEGER NOT NULL, n INTEGER NOT NULL,
                                    body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS batches(seq INTEGER PRIMARY KEY, formed_ms INTEGER NOT NULL, first_id INTEGER NOT NULL,
                                   n INTEGER NOT NULL, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state(k TEXT PRIMARY KEY, v TEXT NOT NULL);
"""
_UPGRADE_1 = """
CREATE TABLE readings_v2(first_id INTEGER PRIMARY KEY, added_ms INTEGER NOT NULL, n INTEGER NOT NULL,
                         body BLOB NOT NULL);
INSERT INTO readings_v2 SELECT id, added_ms, 1, CAST(body AS BLOB) FROM readings ORDER BY id;
DROP TABLE readings;
ALTER TABLE readings_v2 RENAME TO readings;
"""


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def open_schema(db: sqlite3.Connection, node: str) -> bool:
    """Create the tables, or upgrade an older file; return True when the file already held a buffer."""
    (existed,) = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    old = "readings" in [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    if old and "n" not in _columns(db, "readings"):
        db.execute("BEGIN IMMEDIATE")
        try:
            (count,) = db.execute("SELECT count(*) FROM readings").fetchone()
            for statement in _UPGRADE_1.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {FORMAT}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        log.info("%s: buffer file upgraded to format %d (%d readings kept)", node, FORMAT, count)
    db.executescript(_TABLES)
    db.execute(f"PRAGMA user_version = {FORMAT}")
    return bool(existed)
