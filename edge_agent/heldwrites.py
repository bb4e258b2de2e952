"""Writes to the durable buffer that go on in memory while its disk cannot take them.

The buffer's SQLite file fills its disk (or the disk fails): ``database or
disk is full``. Polling must go on, so the groups a commit could not write are
held in memory, at most :data:`HELD_MAX` readings (the oldest dropped beyond,
counted in ``dropped``), and written first, in order, by the next commit that
succeeds. The failure and the recovery are logged once each.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence

from citysense.contract import Reading

log = logging.getLogger(__name__)
HELD_MAX = 100_000  # readings held in memory while the buffer's disk cannot take them

PutMany = Callable[[Sequence[Sequence[Reading]]], None]


class HeldWrites:
    """The write function of :class:`~edge_agent.groupcommit.GroupCommit`, holding groups a failed write left."""

    def __init__(self, put_many: PutMany, node_id: str) -> None:
        self._put_many = put_many
        self._node = node_id
        self._held: list[Sequence[Reading]] = []
        self.failing = False
        self.dropped = 0

    @property
    def held(self) -> int:
        """Readings in memory, waiting for the buffer."""
        return sum(len(g) for g in self._held)

    def __call__(self, groups: Sequence[Sequence[Reading]]) -> None:
        pending = [*self._held, *groups]
        try:
            self._put_many(pending)
        except sqlite3.Error as exc:
            self._held = self._trimmed(pending)
            if not self.failing:
                log.error("%s: the buffer cannot write (%s); holding readings in memory", self._node, exc)  # noqa: TRY400
            self.failing = True
            return
        self._held = []
        if self.failing:
            log.info("%s: the buffer writes again", self._node)
        self.failing = False

    def _trimmed(self, pending: list[Sequence[Reading]]) -> list[Sequence[Reading]]:
        excess = sum(len(g) for g in pending) - HELD_MAX
        while excess > 0 and pending:
            first = pending[0]
            if len(first) <= excess:
                pending.pop(0)
                self.dropped += len(first)
                excess -= len(first)
            else:
                pending[0] = first[excess:]
                self.dropped += excess
                excess = 0
        return pending
