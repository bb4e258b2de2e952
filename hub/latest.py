"""The newest reading of every (device, metric), kept in memory so the API answers at once.

InfluxDB's own ``last(*)`` over 5,000 series takes over a second; the API
serves latest values from here instead, warmed from the store at start.

Liveness: a node that sent its death message (last will), or that has been
silent for longer than ``stale_after_ms``, has its values reported with
quality ``stale`` (the value stays, so a dashboard can still show it greyed).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Iterator

import msgspec

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
        # Each device's readings as API JSON, made on first read after a change: /latest for
        # thousands of devices then joins bytes instead of re-encoding every reading.
        self._json: dict[str, bytes] = {}

    def update(self, readings: Iterable[StoredReading]) -> None:
        """Keep each reading that is newer than the one held."""
        for r in readings:
            metrics = self._by_device.setdefault(r.device, {})
            held = metrics.get(r.metric)
            if held is None or r.ts_ms >= held.ts_ms:
                metrics[r.metric] = r
                self._json.pop(r.device, None)

    async def publish(self, readings: Iterable[StoredReading]) -> None:
        """Update from live traffic (the nodes are alive) and wake everyone waiting in :meth:`wait_until`."""
        readings = list(readings)
        self.update(readings)
        now = time.time_ns() // 1_000_000
        for node in {r.node for r in readings}:
            self._offline.discard(node)
            self._last_seen_ms[node] = now
        for device in {r.device for r in readings}:  # encode now, so /latest always finds the JSON ready
            self._json[device] = self._encode(device, self._by_device[device])
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

    def meta(self, device: str) -> tuple[str, str] | None:
        """``(node, profile)`` of a device held, without copying its readings."""
        held = self._by_device.get(device)
        if not held:
            return None
        first = next(iter(held.values()))
        return first.node, first.profile

    def json_of(self, device: str, now_ms: int) -> bytes:
        """The device's latest readings as the API's JSON object (``{"device":..,"readings":{..}}``)."""
        held = self._by_device.get(device, {})
        stale = bool(held) and self.node_stale(next(iter(held.values())).node, now_ms)
        if not stale and (cached := self._json.get(device)) is not None:
            return cached
        encoded = self._encode(device, {m: _stale(r) for m, r in held.items()} if stale else held)
        if not stale:
            self._json[device] = encoded
        return encoded

    @staticmethod
    def _encode(device: str, readings: dict[str, StoredReading]) -> bytes:
        body = {
            "device": device,
            "readings": {
                m: {"value": r.value, "unit": r.unit, "ts_ms": r.ts_ms, "quality": r.quality.wire}
                for m, r in readings.items()
            },
        }
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()

    def devices(self) -> Iterator[str]:
        """Every device uid held, in sorted order."""
        return iter(sorted(self._by_device))


def _stale(r: StoredReading) -> StoredReading:
    if r.quality != Quality.GOOD:
        return r
    return msgspec.structs.replace(r, quality=Quality.STALE)
