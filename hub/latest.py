"""The newest reading of every (device, metric), kept in memory so the API answers at once."""

from __future__ import annotations

from collections.abc import Iterable

from hub.store.base import StoredReading


class LatestCache:
    """Device uid -> metric -> newest reading."""

    def __init__(self) -> None:
        self._by_device: dict[str, dict[str, StoredReading]] = {}

    def update(self, readings: Iterable[StoredReading]) -> None:
        """Keep each reading that is newer than the one held."""
        for r in readings:
            metrics = self._by_device.setdefault(r.device, {})
            held = metrics.get(r.metric)
            if held is None or r.ts_ms >= held.ts_ms:
                metrics[r.metric] = r

    def get(self, device: str) -> dict[str, StoredReading]:
        """Return the newest readings of ``device`` (empty when none)."""
        return dict(self._by_device.get(device, {}))
