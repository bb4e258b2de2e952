"""Station gateway benchmark: HJ 212 frames and readings per CPU-second, beside the MQTT ingest path's.

Run from the repository root:

    python -m bench.stations [--stations 200] [--frames 20] [--pollutants 8]

(a) The gateway in this process (real TCP on loopback, SQLite store and
    registry as the hub uses them): ``--stations`` simulated HJ 212 monitors
    in a second process each send ``--frames`` real-time uploads (2011, Flag
    5) one after another, waiting for every 9014 answer as a field unit does.
    After a warm-up upload per station (binding its connection and loading
    its dedupe keys, once per hub start), timed: this process's CPU seconds
    (all its threads) from the first frame to the last answer.
(b) The MQTT ingest path's :class:`~hub.ingest.pipeline.Pipeline` in the same
    process, over the same kind of store: the ingest benchmark's messages
    (``bench.hub_ingest.message``, 10 readings each) handed to
    ``handle_many`` in the consumer's group size; CPU seconds per reading.

Both run with the hub process's GC policy (``hub.gcpolicy.tune_gc``).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.hub_ingest import message
from hub.gcpolicy import tune_gc
from hub.stations.hj212.protocol import packet
from hub.stations.hj212.segment import format_time
from hub.store.base import StoredReading
from hub.store.sqlite import SqliteStore
from tests.hub.conftest import build_parts
from tests.stations.conftest import PASSWORD, running_gateway

CODES = ("a34004", "a34002", "a21026", "a21004", "a05024", "a21005", "a01001", "a01002", "a01006", "a01007")


def frames_of(station: int, n: int, pollutants: int, t0_ms: int) -> list[bytes]:
    """``n`` real-time uploads of one monitor, one minute apart."""
    mn = f"BENCH{station:011d}"
    out = []
    for k in range(n):
        ts = t0_ms + k * 60_000
        cp = ";".join(f"{c}-Rtd={10 + k % 50}.5,{c}-Flag=N" for c in CODES[:pollutants])
        head = f"QN={format_time(ts, millis=True)};ST=22;CN=2011;PW={PASSWORD};MN={mn};Flag=5"
        seg = f"{head};CP=&&DataTime={format_time(ts)};{cp}&&"
        out.append(packet(seg.encode()))
    return out


async def _clients(port: int, stations: int, frames: int, pollutants: int, t0_ms: int, sync: Any) -> None:
    warmed, go = sync
    links = [await asyncio.open_connection("127.0.0.1", port) for _ in range(stations)]
    packets = [frames_of(i, frames + 1, pollutants, t0_ms) for i in range(stations)]

    async def one(i: int, frames: list[bytes]) -> None:
        reader, writer = links[i]
        for pkt in frames:
            writer.write(pkt)
            await writer.drain()
            await reader.readuntil(b"\r\n")  # the 9014 answer

    # Warm-up: one upload per station binds every connection and loads its dedupe keys (once per hub start).
    await asyncio.gather(*(one(i, p[:1]) for i, p in enumerate(packets)))
    warmed.set()
    await asyncio.to_thread(go.wait)
    await asyncio.gather(*(one(i, p[1:]) for i, p in enumerate(packets)))
    for _, writer in links:
        writer.close()


def client_process(port: int, stations: int, frames: int, pollutants: int, t0_ms: int, sync: Any) -> None:
    """The monitors, in their own process so that their CPU is not the gateway's."""
    asyncio.run(_clients(port, stations, frames, pollutants, t0_ms, sync))


class DiscardStore(SqliteStore):
    """A store that takes every write and keeps nothing: the cost of the path up to the store alone."""

    async def write(self, readings: Sequence[StoredReading]) -> None:
        return None


def _store(path: Path, discard: bool) -> SqliteStore:
    return (DiscardStore if discard else SqliteStore)(path, retention=None)


async def gateway_run(
    tmp: Path, stations: int, frames: int, pollutants: int, discard: bool = False
) -> tuple[float, int, int]:
    """CPU seconds, frames and readings of the gateway for the timed part of the run."""
    tmp = tmp / f"gw-{discard}"
    tmp.mkdir()
    store = _store(tmp / "readings.db", discard)
    await store.start()
    async with running_gateway(tmp, store) as g:
        for i in range(stations):
            await g.add_monitor(f"B-{i:05d}", f"BENCH{i:011d}")
        t0_ms = (time.time_ns() // 1_000_000 // 60_000 - frames - 1) * 60_000
        ctx = multiprocessing.get_context("spawn")
        warmed, go = ctx.Event(), ctx.Event()
        proc = ctx.Process(target=client_process, args=(g.port, stations, frames, pollutants, t0_ms, (warmed, go)))
        proc.start()
        await asyncio.to_thread(warmed.wait, 120)
        stats = g.gateway.stats
        frames0, readings0 = sum(stats.frames.values()), stats.readings_stored
        cpu0 = time.process_time()
        go.set()
        await asyncio.to_thread(proc.join)
        cpu = time.process_time() - cpu0
        assert proc.exitcode == 0, "client process failed"
    await store.close()
    return cpu, sum(stats.frames.values()) - frames0, stats.readings_stored - readings0


async def pipeline_run(tmp: Path, messages: int, group: int, discard: bool = False) -> tuple[float, int]:
    """CPU seconds and readings of the MQTT ingest pipeline for ``messages`` telemetry messages."""
    tmp = tmp / f"mqtt-{discard}"
    tmp.mkdir()
    store = _store(tmp / "readings.db", discard)
    await store.start()
    parts = build_parts(tmp, store)
    t0 = time.time_ns() // 1_000_000 - 3_000_000
    msgs = [("citysense/v1/N1/telemetry", message(s, t0).encode()) for s in range(messages)]
    cpu0 = time.process_time()
    for i in range(0, messages, group):
        await parts.pipeline.handle_many(msgs[i : i + group])
    cpu = time.process_time() - cpu0
    stored = parts.stats.readings_stored
    await store.close()
    return cpu, stored


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stations", type=int, default=200)
    ap.add_argument("--frames", type=int, default=20, help="uploads per station")
    ap.add_argument("--pollutants", type=int, default=8, choices=range(1, len(CODES) + 1))
    ap.add_argument("--messages", type=int, default=4000, help="MQTT messages of run (b), 10 readings each")
    ap.add_argument("--group", type=int, default=100, help="messages per handle_many call in (b)")
    args = ap.parse_args()
    tune_gc()  # the hub process's GC policy (hub/cli.py applies it at start), for both runs
    print(f"{args.stations} HJ 212 connections x {args.frames} uploads of {args.pollutants} pollutants; "
          f"{args.messages} MQTT messages of 10 readings")  # fmt: skip
    for discard in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            run = gateway_run(Path(tmp), args.stations, args.frames, args.pollutants, discard)
            cpu, frames, readings = asyncio.run(run)
            m_cpu, m_readings = asyncio.run(pipeline_run(Path(tmp), args.messages, args.group, discard))
        label = "store that keeps nothing" if discard else "SQLite store"
        print(f"with the {label}:")
        print(f"  (a) station gateway: {frames / cpu:8.0f} frames/CPU-s  {readings / cpu:9.0f} readings/CPU-s"
              f"  ({frames} frames, {cpu:.2f} CPU-s)")  # fmt: skip
        print(f"  (b) MQTT pipeline:                        {m_readings / m_cpu:9.0f} readings/CPU-s"
              f"  ({m_readings} readings, {m_cpu:.2f} CPU-s)")  # fmt: skip
        print(f"      gateway readings/CPU-s = {readings / cpu / (m_readings / m_cpu):.0%} of the MQTT path's")


if __name__ == "__main__":
    main()
