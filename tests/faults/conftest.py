"""Faults injected by hand, as an operator or a judge would: the registry database away, a full disk."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.postgres import PostgresServer
from tests.harness.server import started


@pytest.fixture
def pg() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test alone (its database is taken away and given back)."""
    server = started(PostgresServer)
    yield server
    server.close()


def database_down(pg: PostgresServer) -> None:
    """The registry database goes away (see :meth:`PostgresServer.refuse_sessions`)."""
    pg.refuse_sessions()


def database_up(pg: PostgresServer) -> None:
    """It comes back."""
    pg.accept_sessions()


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
