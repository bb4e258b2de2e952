"""What the hub acknowledges to an agent: the highest seq up to which every batch of the epoch is done."""

from __future__ import annotations

from hub.ingest.progress import PENDING_MAX, Progress


def test_frontier_waits_for_the_gap_then_jumps_and_reports_each_move_once() -> None:
    p = Progress()
    p.done("N1", "e", 0)
    p.done("N1", "e", 2)  # live batches arrive while the backlog is still being sent
    p.done("N1", "e", 3)
    assert p.frontier("N1", "e") == 0 and p.take_moved() == [("N1", "e", 0)]
    p.done("N1", "e", 1)
    assert p.frontier("N1", "e") == 3 and p.take_moved() == [("N1", "e", 3)]
    p.done("N1", "e", 2)  # a duplicate moves nothing
    assert p.take_moved() == []


def test_the_agents_floor_lifts_the_frontier_past_batches_it_gave_up() -> None:
    p = Progress()
    p.done("N1", "e", 0)
    p.done("N1", "e", 9, floor=7)  # batches 1..6 were dropped by the agent's buffer caps, 7 and 8 are on their way
    assert p.frontier("N1", "e") == 6
    p.done("N1", "e", 7)
    p.done("N1", "e", 8)
    assert p.frontier("N1", "e") == 9


def test_epochs_are_separate_and_a_gap_that_never_closes_is_given_up() -> None:
    p = Progress()
    p.done("N1", "old", 5, floor=5)
    p.done("N1", "new", 0)
    assert (p.frontier("N1", "old"), p.frontier("N1", "new")) == (5, 0)
    for seq in range(2, PENDING_MAX + 3):  # batch 1 of the new epoch never comes and no floor says why
        p.done("N1", "new", seq)
    assert p.frontier("N1", "new") == PENDING_MAX + 2
