"""Latest values of a county in one call: the hub's /api/v1/latest against InfluxDB's own ``last()``.

Run from the repository root (it starts its own InfluxDB):

    python -m bench.latest_api [--devices 5000] [--metrics 20] [--runs 5]

Both sides hold the same data: one point per metric for every device.

* baseline: InfluxQL ``SELECT last(*) FROM <profile> GROUP BY "device"`` on
  InfluxDB 1.x over its HTTP API, the query a dashboard would otherwise run;
* ours: ``GET /api/v1/latest?limit=N`` on a running hub (served from its
  latest-value cache), the whole JSON body read by the client.

Prints the median wall time of each over ``--runs`` runs and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from citysense.quality import Quality
from hub.config import HubSettings, InfluxSettings
from hub.runtime import running_hub
from hub.store.base import StoredReading
from hub.store.influx_v1 import InfluxV1Store
from tests.harness import InfluxServer

PROFILE = "bench_latest"


def readings(devices: int, metrics: int, ts_ms: int) -> list[StoredReading]:
    """One reading per metric of every device, as the hub stores them."""
    return [
        StoredReading(
            f"N{d // 4:04d}",
            f"N{d // 4:04d}.dev{d % 4}",
            PROFILE,
            f"m{m}",
            float(d + m),
            "",
            ts_ms,
            Quality.GOOD,
            {"town": f"44098110{d % 9}"},
        )
        for d in range(devices)
        for m in range(metrics)
    ]


async def median_s(runs: int, call: object) -> float:
    """Median wall time of ``runs`` awaited calls of ``call()``."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def main(devices: int, metrics: int, runs: int) -> None:
    """Fill InfluxDB and a hub with the same data, then time both ways of asking for the latest values."""
    rows = readings(devices, metrics, time.time_ns() // 1_000_000)
    with tempfile.TemporaryDirectory() as tmp, InfluxServer() as influx:
        store = InfluxV1Store(influx.url, "bench")
        await store.start()
        await store.write(rows)
        await store.close()
        async with httpx.AsyncClient(base_url=influx.url, timeout=60) as http:
            query = f'SELECT last(*) FROM "{PROFILE}" GROUP BY "device"'

            async def baseline() -> None:
                r = await http.get("/query", params={"db": "bench", "q": query, "epoch": "ms"})
                r.raise_for_status()

            r = await http.get("/query", params={"db": "bench", "q": query, "epoch": "ms"})
            assert len(r.json()["results"][0]["series"]) == devices  # checked once, outside the timing
            influx_s = await median_s(runs, baseline)
        settings = HubSettings(
            data_dir=Path(tmp) / "hub", api_port=0, influx=InfluxSettings(url=influx.url, database="bench")
        )
        async with running_hub(settings) as hub, httpx.AsyncClient(base_url=hub.api_url, timeout=60) as api:
            hub.services.latest.update(rows)

            async def ours() -> None:
                r = await api.get("/api/v1/latest", params={"limit": devices})
                r.raise_for_status()

            r = await api.get("/api/v1/latest", params={"limit": devices})
            assert len(r.json()["devices"]) == devices  # checked once, outside the timing
            hub_s = await median_s(runs, ours)

            cold_times, encode_times = [], []
            for _ in range(runs):
                started = time.perf_counter()
                await hub.services.latest.publish(rows)  # every device reported since the last call
                encode_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                await ours()
                cold_times.append(time.perf_counter() - started)
            cold_s, encode_s = statistics.median(cold_times), statistics.median(encode_times)
    print(f"latest values of {devices} devices x {metrics} metrics, median of {runs} runs")
    print(f"  InfluxDB last(*) GROUP BY device : {influx_s * 1000:8.1f} ms  (baseline)")
    print(f"  hub GET /api/v1/latest           : {hub_s * 1000:8.1f} ms")
    print(f"  ... right after all devices report: {cold_s * 1000:8.1f} ms")
    per_device_us = encode_s / devices * 1e6
    print(f"  ingest-side cost of keeping it   : {per_device_us:8.1f} us per device update (cache + JSON)")
    print(f"  ratio (baseline / hub)           : {influx_s / hub_s:8.1f}x faster ({influx_s / cold_s:.1f}x worst case)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.devices, args.metrics, args.runs))
