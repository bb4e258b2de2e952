"""What hub-side rollups (write_api v2) add to each write: the local aggregator against a raw-only SQLite write.

Run from the repository root:

    python -m bench.hub_rollups [--devices 200] [--metrics 5] [--instants 60] [--runs 3]

Each batch is one instant of ``--devices`` x ``--metrics`` readings, 10 s
apart, as ingest writes them. Baseline: the same batches into a SQLite store
without rollups (the cheapest local write there is). Ours:
``HubRollups.absorb`` (local write, rollup recompute and reading back the
touched windows that would go to the rollup buckets). The HTTP writes to
InfluxDB are left out of both. Prints the median readings/s over ``--runs``
fresh databases and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from citysense.quality import Quality
from hub.store.base import StoredReading
from hub.store.hub_rollups import HubRollups
from hub.store.sqlite import SqliteStore


def batch(devices: int, metrics: int, ts_ms: int) -> list[StoredReading]:
    """One instant of every device's metrics."""
    return [
        StoredReading(f"N{d}", f"N{d}.dev", "bench", f"m{m}", float(d + m + ts_ms % 997), "", ts_ms, Quality.GOOD)
        for d in range(devices)
        for m in range(metrics)
    ]


async def baseline(path: Path, batches: list[list[StoredReading]]) -> float:
    async with SqliteStore(path) as store:
        t = time.perf_counter()
        for b in batches:
            await store.write(b)
        return sum(map(len, batches)) / (time.perf_counter() - t)


async def ours(path: Path, batches: list[list[StoredReading]]) -> float:
    agg = HubRollups(path)
    await agg.start()
    try:
        t = time.perf_counter()
        for b in batches:
            await agg.absorb(b)
        return sum(map(len, batches)) / (time.perf_counter() - t)
    finally:
        await agg.close()


async def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    ap.add_argument("--devices", type=int, default=200)
    ap.add_argument("--metrics", type=int, default=5)
    ap.add_argument("--instants", type=int, default=60)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    t0 = (time.time_ns() // 1_000_000 - 3_600_000) // 60_000 * 60_000
    batches = [batch(a.devices, a.metrics, t0 + i * 10_000) for i in range(a.instants)]
    base, mine = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(a.runs):
            base.append(await baseline(Path(tmp) / f"base{run}.db", batches))
            mine.append(await ours(Path(tmp) / f"ours{run}.db", batches))
    b, o = statistics.median(base), statistics.median(mine)
    print(f"raw SQLite write    : {b:10.0f} readings/s")
    print(f"hub-side aggregator : {o:10.0f} readings/s")
    print(f"ratio               : {o / b:10.2f}")


if __name__ == "__main__":
    asyncio.run(main())
