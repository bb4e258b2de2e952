"""The newest reading of every (device, metric), kept in memory so the API answers at once.

InfluxDB's own ``last(*)`` over 5,000 series takes over a second; the API
serves latest values from here instead, warmed from the store at start.

Liveness: a node that sent its death message (last will), or that has been
silent for longer than ``stale_after_ms``, has its values reported with
quality ``stale`` (the value stays, so a dashboard can still show it greyed).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator

from citysense.quality import Quality
from hub.store.base import StoredReading

DEFAULT_STALE_AFTER_MS = 15 * 60 * 1000


class LatestCache:
    """Device uid -> metric -> newest reading, and each node's liveness."""

    def __init__(self, stale_after_ms: int = DEFAULT_STALE_AFTER_MS) -> None:
        self.stale_after_ms = stale_after_ms
        self._by_device: dict[str, dict[str, StoredReading]] = {}
        self._offline: set[str] = set()
        self._last_seen_ms: dict[str, int] = {}
        self._session: dict[str, str] = {}
        self._changed = asyncio.Condition()

    def update(self, readings: Iterable[StoredReading]) -> None:
        """Keep each reading that is newer than the one held."""
        for r in readings:
            metrics = self._by_device.setdefault(r.device, {})
            held = metrics.get(r.metric)
            if held is None or r.ts_ms >= held.ts_ms:
                metrics[r.metric] = r

    async def publish(self, readings: Iterable[StoredReading]) -> None:
        """Update from live traffic (the nodes are alive) and wake everyone waiting in :meth:`wait_until`."""
        readings = list(readings)
        self.update(readings)
        now = time.time_ns() // 1_000_000
        for node in {r.node for r in readings}:
            self._offline.discard(node)
            self._last_seen_ms[node] = now
        async with self._changed:
            self._changed.notify_all()

    def set_node_online(self, node: str, online: bool, seen_ms: int, session: str = "") -> None:
        """Record a node's birth (``online``) or death message; a late death of an older session is ignored."""
        if online:
            self._offline.discard(node)
            self._session[node] = session
        elif self._session.get(node, session) == session:
            self._offline.add(node)
        self._last_seen_ms[node] = max(self._last_seen_ms.get(node, 0), seen_ms)

    def node_stale(self, node: str, now_ms: int) -> bool:
        """True when the node is dead, or silent for longer than ``stale_after_ms``."""
        if node in self._offline:
            return True
        seen = self._last_seen_ms.get(node)
        return seen is not None and now_ms - seen > self.stale_after_ms

    async def wait_until(self, predicate: Callable[[LatestCache], bool], timeout_s: float) -> None:
        """Wait until ``predicate(self)`` holds; raises ``TimeoutError`` after ``timeout_s``."""
        async with asyncio.timeout(timeout_s), self._changed:
            await self._changed.wait_for(lambda: predicate(self))

    def get(self, device: str) -> dict[str, StoredReading]:
        """Return the newest readings of ``device`` (empty when none), stale when its node is."""
        held = self._by_device.get(device, {})
        if not held:
            return {}
        node = next(iter(held.values())).node
        if not self.node_stale(node, time.time_ns() // 1_000_000):
            return dict(held)
        return {m: _stale(r) for m, r in held.items()}

    def devices(self) -> Iterator[str]:
        """Every device uid held, in sorted order."""
        return iter(sorted(self._by_device))


def _stale(r: StoredReading) -> StoredReading:
    if r.quality != Quality.GOOD:
        return r
    return dataclasses.replace(r, quality=Quality.STALE)
