"""The newest reading of every (device, metric), kept in memory so the API answers at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from hub.store.base import StoredReading


class LatestCache:
    """Device uid -> metric -> newest reading."""

    def __init__(self) -> None:
        self._by_device: dict[str, dict[str, StoredReading]] = {}
        self._changed = asyncio.Condition()

    def update(self, readings: Iterable[StoredReading]) -> None:
        """Keep each reading that is newer than the one held."""
        for r in readings:
            metrics = self._by_device.setdefault(r.device, {})
            held = metrics.get(r.metric)
            if held is None or r.ts_ms >= held.ts_ms:
                metrics[r.metric] = r

    async def publish(self, readings: Iterable[StoredReading]) -> None:
        """Update and wake everyone waiting in :meth:`wait_until`."""
        self.update(readings)
        async with self._changed:
            self._changed.notify_all()

    async def wait_until(self, predicate: Callable[[LatestCache], bool], timeout_s: float) -> None:
        """Wait until ``predicate(self)`` holds; raises ``TimeoutError`` after ``timeout_s``."""
        async with asyncio.timeout(timeout_s), self._changed:
            await self._changed.wait_for(lambda: predicate(self))

    def get(self, device: str) -> dict[str, StoredReading]:
        """Return the newest readings of ``device`` (empty when none)."""
        return dict(self._by_device.get(device, {}))
