"""What the embedded store's rollups cost on the write path, and what they save on a long read.

Run from the repository root:

    python -m bench.sqlite_rollups [--devices 200] [--metrics 5] [--minutes 120] [--batch 500]

Writes the same readings (every device reports every metric each 10 s over
``--minutes``, in batches of ``--batch``, as ingest would) into two fresh
SQLite stores: one with raw rows only (baseline), one keeping 1-minute and
1-hour rollups. The stores' clocks follow the data's time, so rollups are
flushed every 10 s of it, as live. Prints readings/s for each and the ratio,
then the time of a 90-day ``query_resolved`` for one device from each (raw
rows vs 1-hour rows; the latter includes flushing the last seconds' marks).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from citysense.quality import Quality
from hub.store.base import StoredReading
from hub.store.retention import DAY_MS, RetentionSettings
from hub.store.sqlite import SqliteStore


def readings(devices: int, metrics: int, minutes: int, end_ms: int) -> list[StoredReading]:
    start = end_ms - minutes * 60_000
    return [
        StoredReading(f"n{d}", f"n{d}.g", "gauge", f"m{m}", float(t % 997 + m), "u", t, Quality.GOOD, {"town": "t"})
        for t in range(start, end_ms, 10_000)
        for d in range(devices)
        for m in range(metrics)
    ]


async def run(
    path: Path, rows: list[StoredReading], batch: int, retention: RetentionSettings | None
) -> tuple[float, float, float]:
    clock = [rows[0].ts_ms]  # the store's clock follows the data, as it would live
    async with SqliteStore(path, retention=retention, clock=lambda: clock[0] / 1000) as store:
        t0 = time.perf_counter()
        for i in range(0, len(rows), batch):
            clock[0] = rows[min(i + batch, len(rows)) - 1].ts_ms
            await store.write(rows[i : i + batch])
        write_s = time.perf_counter() - t0
        now_ms = clock[0] + 1
        reads = []
        for _ in range(2):  # the first read of the rollups flushes the last marks
            t0 = time.perf_counter()
            rp, got = await store.query_resolved(
                "n0.g", "gauge", None, now_ms - 90 * DAY_MS, now_ms, now_ms, limit=10_000_000
            )
            reads.append(time.perf_counter() - t0)
        print(f"  {path.name}: a 90-day read of one device returns {len(got)} rows from {rp}")
        return len(rows) / write_s, reads[0], reads[1]


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=200)
    ap.add_argument("--metrics", type=int, default=5)
    ap.add_argument("--minutes", type=int, default=120)
    ap.add_argument("--batch", type=int, default=500)
    a = ap.parse_args()
    rows = readings(a.devices, a.metrics, a.minutes, time.time_ns() // 1_000_000)
    with tempfile.TemporaryDirectory() as tmp:
        base_rate, _, base_read = await run(Path(tmp) / "raw.db", rows, a.batch, None)
        ours_rate, first_read, ours_read = await run(Path(tmp) / "rollups.db", rows, a.batch, RetentionSettings())
    print(f"{len(rows)} readings, batches of {a.batch}")
    print(f"write, raw only (baseline): {base_rate:10.0f} readings/s")
    print(f"write, with rollups:        {ours_rate:10.0f} readings/s  ratio {ours_rate / base_rate:.2f}")
    print(f"90-day read, raw rows:      {base_read * 1000:10.1f} ms")
    print(f"90-day read, 1-hour rows:   {ours_read * 1000:10.1f} ms  ratio {base_read / ours_read:.0f}x faster")
    print(f"  the first such read, flushing the last marks: {first_read * 1000:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
