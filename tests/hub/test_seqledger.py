"""The dedupe ledger recognises stored batches across restarts, per epoch, with their content digests."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.ingest.seqledger import SeqLedger
from hub.registry.service import Registry

E = "e1"


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    reg.create_all()
    return reg


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
