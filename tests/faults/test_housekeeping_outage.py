"""The hub's pruning loops outlive a registry database outage and prune again once it is back.

They ran in the hub's TaskGroup, so a query that failed while PostgreSQL
restarted ended every part of the hub.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy import func, select

from citysense.runner import STOP_GRACE_S, cancel_and_wait
from hub.ingest.deadletters import DeadLetterSink
from hub.ingest.seqledger import SeqLedger, StoredBatch
from hub.ingest.stats import IngestStats
from hub.registry.models import DeadLetter
from hub.registry.service import Registry
from tests.faults.conftest import database_down, database_up
from tests.harness.postgres import PostgresServer


def _old_letter() -> DeadLetter:
    return DeadLetter(received_ms=1, topic="t", node=None, reason="test", detail="", payload="")


def _letters(registry: Registry) -> int:
    with registry.session() as s:
        return s.query(DeadLetter).count()


async def _survives(registry: Registry, pg: PostgresServer, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
    task = asyncio.create_task(loop(), name="test:pruning")
    try:
        await asyncio.sleep(0.5)
        database_down(pg)
        await asyncio.sleep(1.5)  # several rounds fail meanwhile
        assert not task.done(), task.exception() if task.done() else None
        database_up(pg)
        await asyncio.to_thread(registry.add_dead_letters, [_old_letter()])  # a row for the next round to prune
        async with asyncio.timeout(10):
            while await asyncio.to_thread(_letters, registry):  # noqa: ASYNC110 - the table is the only signal
                await asyncio.sleep(0.1)
        assert not task.done()
    finally:
        await cancel_and_wait([task], grace_s=STOP_GRACE_S)
        await asyncio.gather(task, return_exceptions=True)


async def test_dead_letter_and_ledger_pruning_outlive_a_database_outage(pg: PostgresServer) -> None:
    registry = Registry(pg.url)
    try:
        await asyncio.to_thread(registry.migrate)
        sink = DeadLetterSink(registry, IngestStats())
        ledger = SeqLedger(registry)

        async def both() -> None:
            async with asyncio.TaskGroup() as tg:  # as in the hub: one loop's end would end the other
                tg.create_task(sink.run_pruning(keep_days=1, max_rows=1000, every_s=0.2), name="test:dead-prune")
                tg.create_task(ledger.run_pruning(keep_s=60, every_s=0.2), name="test:ledger-prune")

        await ledger.mark_many([(("N1", "e", 1), 7)])
        await _survives(registry, pg, both)
        with registry.session() as s:  # the ledger's row is recent: kept through the rounds
            assert s.execute(select(func.count()).select_from(StoredBatch)).scalar_one() == 1
    finally:
        registry.engine.dispose()
