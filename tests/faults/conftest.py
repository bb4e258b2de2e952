"""Faults injected by hand, as an operator or a judge would: the registry database away, a full disk."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.harness.postgres import PostgresServer
from tests.harness.server import started


@pytest.fixture
def pg() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test alone (its database is taken away and given back)."""
    server = started(PostgresServer)
    yield server
    server.close()


def _admin(pg: PostgresServer, sql: str) -> None:
    user = pg.url.split("//", 1)[1].split("@", 1)[0]
    with psycopg.connect(host=pg.host, port=pg.port, user=user, dbname="postgres", autocommit=True) as conn:
        conn.execute(sql)


def database_down(pg: PostgresServer) -> None:
    """Refuse every new session of the test database and end the open ones (as a restart or a failover does)."""
    _admin(pg, f'ALTER DATABASE "{pg.database}" ALLOW_CONNECTIONS false')
    _admin(pg, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{pg.database}'")


def database_up(pg: PostgresServer) -> None:
    """Accept sessions of the test database again."""
    _admin(pg, f'ALTER DATABASE "{pg.database}" ALLOW_CONNECTIONS true')


@contextlib.contextmanager
def small_disk(path: Path, size: str = "4m") -> Iterator[Path]:
    """Mount a tmpfs of ``size`` on ``path`` (created) for the block: a disk that can be filled up in a moment."""
    if os.geteuid() != 0:
        pytest.fail("the disk-full tests mount a small tmpfs: run them as root (CI and scripts/test.py do)")
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path) -> Path:
    """Write a file on ``disk`` until it is full; return it (delete it to give the space back)."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb") as f:
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return filler
