"""Which nodes an alert engine evaluates: every node (a county hub) or those of the partitions a worker holds.

A province worker (docs/scale-out.md) stores the readings of the nodes in the
partitions its leases give it, so its alert engine evaluates exactly those
nodes' rules: readings, pending ``for``/``clear_for`` timers, no-data silence
and node liveness. Another worker's nodes are not its business — evaluating
their silence would raise no-data alarms for nodes it never hears from.

:class:`PartitionScope` is that set, with each partition's fencing token (the
writes of its nodes' states and transitions carry it: :mod:`hub.alerts.fences`)
and the moment it was gained (silence is counted from then at the earliest, as
from a restart).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from hub.alerts.errors import AlertsFenced

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class PartitionScope:
    """The partitions held, by fencing token; ``partition_of`` maps a node id to its partition."""

    partition_of: Callable[[str], int]
    worker: str
    tokens: dict[int, int] = field(default_factory=dict)
    since_ms: dict[int, int] = field(default_factory=dict)
    _cache: dict[str, int] = field(default_factory=dict)

    def partition(self, node: str) -> int:
        """The partition of ``node`` (computed once per node)."""
        p = self._cache.get(node)
        if p is None:
            p = self._cache[node] = self.partition_of(node)
        return p

    def owns(self, node: str) -> bool:
        """True while this worker holds the partition of ``node``."""
        return self.partition(node) in self.tokens

    def fence(self, nodes: Iterable[str]) -> dict[int, int]:
        """The tokens a write touching ``nodes`` must still hold (their partitions must all be held)."""
        return {p: self.tokens[p] for p in {self.partition(n) for n in nodes}}

    @property
    def actor(self) -> str:
        """Who the audit trail names for this worker's transitions."""
        return f"engine@{self.worker}"


async def fenced_write(
    scope: PartitionScope,
    items: list[T],
    node_of: Callable[[T], str],
    call: Callable[[list[T], dict[int, int] | None], None],
    fenced: Callable[[int], None],
) -> None:
    """Run ``call(items of held partitions, their tokens)`` in a thread.

    A partition the database says is fenced (a newer owner sealed it) is
    handed to ``fenced`` (which drops it) and the rest written again: its new
    owner evaluates that partition's nodes now.
    """
    while True:
        items = [i for i in items if scope.owns(node_of(i))]
        if not items:
            return
        try:
            await asyncio.to_thread(call, items, scope.fence(node_of(i) for i in items))
        except AlertsFenced as exc:
            log.warning("alerts: %s; its nodes are evaluated by their new owner", exc)
            fenced(exc.partition)
        else:
            return
