"""Readings the buffer's full disk could not take are held in memory, bounded, and written first when it can."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from citysense.contract import Reading
from edge_agent import heldwrites
from edge_agent.heldwrites import HeldWrites


def _group(start: int, n: int) -> list[Reading]:
    return [
        Reading(device="d", metric="m", value=float(i), ts_ms=1_700_000_000_000 + i) for i in range(start, start + n)
    ]


@dataclass
class _Disk:
    """The buffer's ``put_many``: refuses as SQLite does on a full disk until ``full`` is cleared."""

    full: bool = True
    written: list[float] = field(default_factory=list)

    def put_many(self, groups: Sequence[Sequence[Reading]]) -> None:
        if self.full:
            raise sqlite3.OperationalError("database or disk is full")
        self.written.extend(float(r.value) for g in groups for r in g)  # type: ignore[arg-type]


def test_held_groups_are_written_first_in_order_once_the_disk_takes_them_again() -> None:
    disk = _Disk()
    writes = HeldWrites(disk.put_many, "N1")
    writes([_group(0, 3)])
    writes([_group(3, 2), _group(5, 1)])
    assert writes.failing and writes.held == 6 and disk.written == []
    disk.full = False
    writes([_group(6, 2)])
    assert disk.written == [float(i) for i in range(8)]
    assert not writes.failing and writes.held == 0 and writes.dropped == 0


def test_beyond_the_cap_the_oldest_held_readings_are_dropped_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heldwrites, "HELD_MAX", 5)
    disk = _Disk()
    writes = HeldWrites(disk.put_many, "N1")
    writes([_group(0, 4)])
    writes([_group(4, 3)])  # 7 held: the two oldest go
    assert writes.held == 5 and writes.dropped == 2
    disk.full = False
    writes([])
    assert disk.written == [2.0, 3.0, 4.0, 5.0, 6.0]
