"""Group commit: the polls of one loop turn share a transaction, and each put returns only once it is in the file."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from citysense.contract import Reading, TelemetryBatch, decode
from edge_agent.buffer import DurableBuffer
from edge_agent.groupcommit import GroupCommit

T0 = 1_700_000_000_000


def on_disk(path: Path) -> int:
    """Readings in the file (waiting or in batches), as another process sees it."""
    db = sqlite3.connect(path)
    try:
        (n,) = db.execute(
            "SELECT (SELECT coalesce(sum(n), 0) FROM readings) + (SELECT coalesce(sum(n), 0) FROM batches)"
        ).fetchone()
        return int(n)
    finally:
        db.close()


async def test_polls_finishing_together_share_one_commit_and_each_is_durable_when_put_returns(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite"
    buf = DurableBuffer(path, "N1")
    commits = GroupCommit(buf.put_many)
    seen: list[int] = []

    async def poll(device: int) -> None:
        readings = [Reading(device=f"d{device}", metric="level", value=device * 10 + i, ts_ms=T0) for i in range(3)]
        await commits.put(readings)
        seen.append(on_disk(path))  # what a crash right now would leave

    async with asyncio.TaskGroup() as tg:
        for device in range(20):
            tg.create_task(poll(device), name=f"test:poll{device}")
    assert commits.commits == 1 and commits.groups == 20
    assert seen == [60] * 20
    batch = buf.form(1000)
    assert batch is not None
    values = [r.value for r in decode(TelemetryBatch, batch.payload, "N1").readings]
    assert values == [d * 10 + i for d in range(20) for i in range(3)]  # in the order they were handed over
    await commits.put([Reading(device="d1", metric="level", value=1, ts_ms=T0)])
    assert commits.commits == 2 and on_disk(path) == 61
    buf.close()


async def test_a_failed_commit_fails_every_put_waiting_for_it(tmp_path: Path) -> None:
    buf = DurableBuffer(tmp_path / "b.sqlite", "N1")
    commits = GroupCommit(buf.put_many)
    buf.close()  # the disk went away, as far as the puts can tell
    readings = [Reading(device="d1", metric="level", value=1, ts_ms=T0)]
    results = await asyncio.gather(commits.put(readings), commits.put(readings), return_exceptions=True)
    assert all(isinstance(r, sqlite3.ProgrammingError) for r in results)
    with pytest.raises(sqlite3.ProgrammingError):
        await commits.put(readings)
