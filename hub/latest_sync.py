"""Keep a worker's latest-value cache complete when several hub workers share the telemetry.

With an MQTT shared subscription each worker ingests only part of the
fleet, so its :class:`~hub.latest.LatestCache` (what ``/api/v1/latest``
answers from) would hold only that part. :func:`run_latest_sync` reads the
newest stored value of every registered device from the store every
``every_s`` and folds it in; a value this worker ingested itself is newer and
is kept (``LatestCache.update`` moves forward only). The cost is one
``latest()`` query over the fleet per period on the store (seconds on
InfluxDB for a county, so keep the period at tens of seconds).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from hub.latest import LatestCache
from hub.registry.snapshot import RegistrySnapshot
from hub.store.base import Store
from hub.store.errors import StoreError

log = logging.getLogger(__name__)


async def sync_once(latest: LatestCache, store: Store, snapshot: RegistrySnapshot) -> int:
    """Fold the store's newest value of every device into ``latest``; return how many devices had any."""
    pairs = [(d.uid, d.profile) for n in snapshot.nodes.values() for d in n.devices.values()]
    if not pairs:
        return 0
    found = await store.latest(pairs)
    for metrics in found.values():
        latest.update(metrics.values())
    return len(found)


async def run_latest_sync(
    latest: LatestCache, store: Store, snapshot: Callable[[], RegistrySnapshot], every_s: float
) -> None:
    """Run :func:`sync_once` every ``every_s``, forever (a task); a store outage is logged once and retried."""
    failing = False
    while True:
        await asyncio.sleep(every_s)
        try:
            await sync_once(latest, store, snapshot())
        except StoreError as exc:
            if not failing:
                log.warning("latest sync: store unavailable (%s); retrying every %.0f s", exc, every_s)
            failing = True
        else:
            if failing:
                log.info("latest sync: recovered")
            failing = False
