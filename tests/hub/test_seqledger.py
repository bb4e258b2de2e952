"""The dedupe ledger recognises stored batches across restarts, per epoch, with their content digests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.ingest.seqledger import SeqLedger, StoredBatch
from hub.registry.service import Registry
from tests.harness.postgres import PostgresServer
from tests.harness.server import started

E = "e1"


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    reg.create_all()
    return reg


@pytest.fixture
def pg_registry() -> Iterator[Registry]:
    server = started(PostgresServer)
    reg = Registry(server.url)
    try:
        reg.create_all()
        yield reg
    finally:
        reg.engine.dispose()
        server.close()


async def test_workers_sharing_postgresql_see_each_others_batches_once(pg_registry: Registry) -> None:
    first, second = SeqLedger(pg_registry, exclusive=True), SeqLedger(pg_registry)
    await first.mark_many([(("N1", E, 0), 10), (("N1", E, 1), 11), (("N2", E, 0), 20)])
    # A redelivered group marked again by the next owner, beside a new batch: one row each, the first digest kept.
    await second.mark_many([(("N1", E, 1), 11), (("N1", E, 2), 12), (("N1", E, 1), 11)])
    third = SeqLedger(pg_registry, exclusive=True)
    keys = [("N1", E, 0), ("N1", E, 1), ("N1", E, 2), ("N1", E, 3), ("N2", E, 0), ("N2", "e2", 0)]
    assert await third.seen_many(keys) == {("N1", E, 0): 10, ("N1", E, 1): 11, ("N1", E, 2): 12, ("N2", E, 0): 20}
    with pg_registry.session() as s:
        assert s.scalar(select(func.count()).select_from(StoredBatch)) == 4


@pytest.mark.parametrize("exclusive", [False, True])
async def test_a_restarted_hub_knows_what_it_stored_and_nothing_else(registry: Registry, exclusive: bool) -> None:
    before = SeqLedger(registry, exclusive=exclusive)
    await before.mark_many([(("N1", E, 5), 55), (("N1", E, 7), 77), (("N2", E, 1), 11)])
    after = SeqLedger(registry, exclusive=exclusive)  # a new process: empty memory window
    keys = [("N1", E, 5), ("N1", E, 6), ("N1", E, 7), ("N1", E, 8), ("N2", E, 1), ("N2", E, 2), ("N3", E, 0)]
    assert await after.seen_many(keys) == {("N1", E, 5): 55, ("N1", E, 7): 77, ("N2", E, 1): 11}


@pytest.mark.parametrize("exclusive", [False, True])
async def test_a_new_epoch_starts_afresh_at_seq_0(registry: Registry, exclusive: bool) -> None:
    ledger = SeqLedger(registry, exclusive=exclusive)
    await ledger.seen_many([("N1", E, 0)])
    await ledger.mark_many([(("N1", E, 0), 1), (("N1", E, 1), 2)])
    # A wiped state directory: a new epoch, numbered from 0 again, is new to the ledger.
    assert await ledger.seen_many([("N1", "e2", 0), ("N1", "e2", 1), ("N1", E, 1)]) == {("N1", E, 1): 2}


async def test_exclusive_ledger_finds_batches_that_left_the_memory_window(registry: Registry) -> None:
    ledger = SeqLedger(registry, window=2, exclusive=True)
    assert await ledger.seen_many([("N1", E, 1)]) == {}  # first sight of N1: nothing stored
    await ledger.mark_many([(("N1", E, 1), 1), (("N1", E, 2), 2), (("N1", E, 3), 3)])  # seq 1 leaves the window
    assert await ledger.seen_many([("N1", E, 1), ("N1", E, 4)]) == {("N1", E, 1): 1}


async def test_exclusive_ledger_stores_a_lower_seq_it_never_stored(registry: Registry) -> None:
    ledger = SeqLedger(registry, exclusive=True)
    await ledger.seen_many([("N1", E, 10)])
    await ledger.mark_many([(("N1", E, 10), 9)])
    # An agent restored from an old copy of its state re-uses seqs: below the high mark, but new to the ledger.
    assert await ledger.seen_many([("N1", E, 0), ("N1", E, 10)]) == {("N1", E, 10): 9}
