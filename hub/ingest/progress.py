"""How far each node's batches are done at the hub, per epoch: what the hub acknowledges to the agent.

A batch is *done* once it is durable at the hub: its readings stored or
spooled (or dead-lettered, each with its reason), or it is dead-lettered
whole, or the dedupe ledger already holds it. For every ``(node, epoch)``
:class:`Progress` keeps the highest seq such that every batch of the epoch up
to it is done, and the batches done above it (out of order: the agent sends
its backlog and its live readings at once). The agent's ``floor`` (the lowest
seq it still holds) lifts the frontier past batches it gave up, so a gap it
made itself never stalls it.

Kept in memory only: after a hub restart the frontier starts at the agent's
next floor and the re-sends (duplicates in the ledger, so done at once) fill
it in again; the retained ack on the broker keeps the last value meanwhile.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

log = logging.getLogger(__name__)
PENDING_MAX = 4096  # batches done above a gap; past it the gap is given up (its batches are never coming)
EPOCHS_PER_NODE = 4  # the newest epochs kept per node; older ones are forgotten


class Progress:
    """Frontier of done batches per ``(node, epoch)``, and which frontiers moved since they were last taken."""

    def __init__(self) -> None:
        self._frontier: dict[str, OrderedDict[str, int]] = {}
        self._pending: dict[tuple[str, str], set[int]] = {}
        self._moved: dict[tuple[str, str], int] = {}

    def frontier(self, node: str, epoch: str) -> int:
        """The highest seq of ``epoch`` up to which every batch of ``node`` is done (``-1``: none)."""
        epochs = self._frontier.get(node)
        return -1 if epochs is None else epochs.get(epoch, -1)

    def done(self, node: str, epoch: str, seq: int, floor: int = 0) -> None:
        """Record that batch ``seq`` of ``(node, epoch)`` is done; the agent holds nothing below ``floor``."""
        epochs = self._frontier.get(node)
        if epochs is not None:  # the common case first: the next batch in order, nothing waiting above it
            front = epochs.get(epoch)
            if front is not None and seq == front + 1 and floor <= seq and not self._pending.get((node, epoch)):
                epochs[epoch] = seq
                self._moved[node, epoch] = seq
                return
        epochs = self._frontier.setdefault(node, OrderedDict())
        before = front = epochs.get(epoch, -1)
        epochs[epoch] = front
        epochs.move_to_end(epoch)
        while len(epochs) > EPOCHS_PER_NODE:
            old, _ = epochs.popitem(last=False)
            self._pending.pop((node, old), None)
            self._moved.pop((node, old), None)
        pending = self._pending.setdefault((node, epoch), set())
        if floor - 1 > front:
            front = floor - 1
            pending.difference_update([s for s in pending if s <= front])
        if seq > front:
            pending.add(seq)
        if len(pending) > PENDING_MAX and front + 1 not in pending:
            gap_end = min(pending) - 1
            log.warning("%s: batches %d..%d of epoch %s never came; acknowledging past them", node, front + 1,
                        gap_end, epoch)  # fmt: skip
            front = gap_end
        while front + 1 in pending:
            front += 1
            pending.discard(front)
        if front != before:
            epochs[epoch] = front
            self._moved[node, epoch] = front

    def take_moved(self) -> list[tuple[str, str, int]]:
        """``(node, epoch, frontier)`` of every frontier that moved since the last call."""
        moved = [(n, e, s) for (n, e), s in self._moved.items()]
        self._moved.clear()
        return moved
