"""The report ledger: a re-sent report is recognised after a restart and beyond the memory window."""

from __future__ import annotations

from pathlib import Path

from hub.registry.service import Registry
from hub.stations.ledger import ReportLedger


async def test_reports_are_known_after_a_restart_and_after_memory_forgot_them(tmp_path: Path) -> None:
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    registry.migrate()
    ledger = ReportLedger(registry, per_node=2)
    keys = [f"2011:2026120212{m:02d}00:1" for m in range(5)]
    await ledger.mark_many([("AQ-1", k) for k in keys])
    assert await ledger.seen("AQ-1", keys[0])  # evicted from memory, found in the database
    restarted = ReportLedger(registry, per_node=2)
    for k in keys:
        assert await restarted.seen("AQ-1", k)
    assert not await restarted.seen("AQ-1", "2011:20261202130000:1")
    assert not await restarted.seen("AQ-2", keys[0])  # keys are per station
    async with restarted.claim("AQ-1", keys[1]) as fresh:
        assert not fresh  # a re-sent copy is not written again
    registry.engine.dispose()
