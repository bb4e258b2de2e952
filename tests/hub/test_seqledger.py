"""The dedupe ledger recognises stored batches across restarts, with or without the exclusive shortcut."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.ingest.seqledger import SeqLedger
from hub.registry.service import Registry


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    reg.create_all()
    return reg


@pytest.mark.parametrize("exclusive", [False, True])
async def test_a_restarted_hub_knows_what_it_stored_and_nothing_else(registry: Registry, exclusive: bool) -> None:
    before = SeqLedger(registry, exclusive=exclusive)
    await before.mark_many([("N1", 5), ("N1", 7), ("N2", 1)])
    after = SeqLedger(registry, exclusive=exclusive)  # a new process: empty memory window
    keys = [("N1", 5), ("N1", 6), ("N1", 7), ("N1", 8), ("N2", 1), ("N2", 2), ("N3", 0)]
    assert await after.seen_many(keys) == {("N1", 5), ("N1", 7), ("N2", 1)}


async def test_exclusive_ledger_finds_batches_that_left_the_memory_window(registry: Registry) -> None:
    ledger = SeqLedger(registry, window=2, exclusive=True)
    assert await ledger.seen_many([("N1", 1)]) == set()  # first sight of N1: nothing stored
    await ledger.mark_many([("N1", 1), ("N1", 2), ("N1", 3)])  # seq 1 falls out of the window of 2
    assert await ledger.seen_many([("N1", 1), ("N1", 4)]) == {("N1", 1)}


async def test_exclusive_ledger_stores_a_lower_seq_it_never_stored(registry: Registry) -> None:
    ledger = SeqLedger(registry, exclusive=True)
    await ledger.seen_many([("N1", 10)])
    await ledger.mark_many([("N1", 10)])
    # An agent that lost its sequence state starts again at 0: below the high mark, but new.
    assert await ledger.seen_many([("N1", 0), ("N1", 10)]) == {("N1", 10)}
