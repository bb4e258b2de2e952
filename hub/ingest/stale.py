"""Reload the registry snapshot when a message names a node it does not know.

Several hub processes share one registry (a province's workers, a county's
share group). A node created, claimed or imported through one of them is in
that process's snapshot at once, but not in the others': their pipelines
would dead-letter its first batches as ``unknown_node`` (and acknowledge
them, so the agent forgets them). Before refusing, the pipeline asks this
guard, which reloads the snapshot (and what depends on it: alert rules, the
station gateway) at most once every ``min_interval_s``, so a truly unknown
node costs one reload per interval, not one per message.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Sequence

Refresh = Callable[[], Awaitable[None]]


class UnknownNodeGuard:
    """Decides when an unknown node is worth a reload of the snapshot, and runs it."""

    def __init__(self, refresh: Refresh, *, min_interval_s: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.refresh = refresh
        self.min_interval_s = min_interval_s
        self.clock = clock
        self._last = -min_interval_s
        self.reloads = 0

    async def check(self, messages: Sequence[tuple[str, bytes]], prefix: str, known: Collection[str]) -> bool:
        """Reload if a message's node is not in ``known`` and the last reload is old enough; True if reloaded."""
        start = len(prefix) + 1
        if all(topic[start:].split("/", 1)[0] in known for topic, _ in messages):
            return False
        now = self.clock()
        if now - self._last < self.min_interval_s:
            return False
        self._last = now
        await self.refresh()
        self.reloads += 1
        return True
