"""Benchmark the alert engine: CPU at the county rate, and reading → webhook latency.

Part 1 binds rules for 5,000 devices × 20 metrics (a threshold with hysteresis
and ``for_s`` per metric, plus a no-data rule per device: 105,000 rules), feeds
10,000 readings/s for ``--seconds`` in batches of 20 (one device per message,
as agents send them) and measures the process CPU time spent in the engine
(evaluation, timer, state flushes) against wall time. The baseline is the same
loop over the same readings with no rule bound.

Part 2 runs the real hub (``running_hub``) on Mosquitto started by the test
harness, publishes a reading that crosses a threshold, and times publish →
signed webhook received at a local HTTP server, ``--trips`` times (raise and
clear alternately).

    python -m bench.alerts --seconds 10 --trips 200
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, cast

from citysense.profiles import ProfileSet
from citysense.profiles.model import Profile
from citysense.quality import Quality
from hub.alerts.config import AlertConfig
from hub.alerts.engine import AlertEngine
from hub.registry.service import Registry
from hub.registry.snapshot import DeviceView, NodeView, RegistrySnapshot
from hub.store.base import StoredReading

DEVICES, METRICS, RATE = 5_000, 20, 10_000


def _profile(with_rules: bool) -> Profile:
    points = [
        {"metric": f"m{i}", "table": "holding", "address": i, "type": "int16", "scale": 0.1} for i in range(METRICS)
    ]
    rules: list[dict[str, Any]] = []
    if with_rules:
        rules = [
            {"id": f"r{i}", "kind": "threshold", "metric": f"m{i}", "above": 90.0, "clear_below": 85.0, "for_s": 30}
            for i in range(METRICS)
        ]
        rules.append({"id": "silent", "kind": "no_data", "tolerance": 3})
    return Profile.model_validate(
        {
            "id": "bench",
            "model": "b",
            "manufacturer": "b",
            "source": "bench",
            "category": "b",
            "expected_interval_s": 10,
            "points": points,
            "alerts": rules,
        }
    )


async def _engine(tmp: Path, with_rules: bool) -> AlertEngine:
    registry = Registry(f"sqlite:///{tmp / ('r.db' if with_rules else 'b.db')}")
    registry.create_all()
    nodes = {}
    for d in range(DEVICES):
        nid = f"N{d}"
        nodes[nid] = NodeView(nid, {"dev": DeviceView(f"{nid}.dev", nid, "dev", "bench", {})})
    cfg = AlertConfig.model_validate({"node_offline": {"enabled": False}, "flush_s": 1, "tick_s": 1})
    engine = AlertEngine(
        registry=registry,
        snapshot=RegistrySnapshot(nodes),
        profiles=cast(ProfileSet, {"bench": _profile(with_rules)}),
        cfg=cfg,
    )
    await engine.start()
    return engine


async def _feed(engine: AlertEngine, seconds: float) -> tuple[float, float, int]:
    """Feed RATE readings/s paced in 100 ms slices; return (cpu s, wall s, readings)."""
    rnd = random.Random(7)
    per_slice = RATE // 10
    batches_per_slice = per_slice // METRICS
    dev = 0
    sent = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    next_tick = wall0 + 1.0
    for s in range(int(seconds * 10)):
        now_ms = time.time_ns() // 1_000_000
        for _ in range(batches_per_slice):
            uid = f"N{dev}.dev"
            dev = (dev + 1) % DEVICES
            batch = [
                StoredReading(f"N{dev}", uid, "bench", f"m{i}", rnd.gauss(60, 12), "", now_ms, Quality.GOOD)
                for i in range(METRICS)
            ]
            await engine.on_stored(batch)
            sent += METRICS
        if time.perf_counter() >= next_tick:
            await engine.tick()
            await engine.flush()
            next_tick += 1.0
        # Sleep to the next 100 ms slice: the engine's CPU is measured, idle time is not.
        delay = wall0 + (s + 1) / 10 - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    return time.process_time() - cpu0, time.perf_counter() - wall0, sent


def _cost_of_making_readings(seconds: float) -> float:
    """CPU spent only building the StoredReading objects the feed creates (subtracted from both runs)."""
    rnd = random.Random(7)
    cpu0 = time.process_time()
    for _ in range(int(seconds * RATE / METRICS)):
        _ = [
            StoredReading("N", "N.dev", "bench", f"m{i}", rnd.gauss(60, 12), "", 0, Quality.GOOD)
            for i in range(METRICS)
        ]
    return time.process_time() - cpu0


async def part1(seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        base = await _engine(tmp, with_rules=False)
        b_cpu, b_wall, _ = await _feed(base, seconds)
        eng = await _engine(tmp, with_rules=True)
        e_cpu, e_wall, n = await _feed(eng, seconds)
        make = _cost_of_making_readings(seconds)
        return {
            "rules": float(len(eng.bound)),
            "readings": float(n),
            "rate_per_s": n / e_wall,
            "engine_cpu_pct": 100 * (e_cpu - make) / e_wall,
            "baseline_cpu_pct": 100 * (b_cpu - make) / b_wall,
            "evaluations": float(eng.evaluations),
            "alarms_raised": float(sum(1 for s in eng.states.values() if s.active)),
        }


async def part2(trips: int) -> dict[str, float]:
    from tests.alerts.httpfake import fake_provider
    from tests.alerts.stack import alerts_yaml, hub_and_agent, with_broker, write_files
    from tests.harness.mosquitto import MosquittoServer

    arrivals: list[float] = []
    got = threading.Event()

    def reply(_req: object) -> tuple[int, str, bytes]:
        arrivals.append(time.perf_counter())
        got.set()
        return 204, "text/plain", b""

    lat: list[float] = []
    with (
        tempfile.TemporaryDirectory() as d,
        fake_provider(reply) as wh,
        fake_provider(reply) as sms,
        MosquittoServer() as mosq,
    ):
        cfg = alerts_yaml(wh.url, sms.url)
        cfg["contacts"]["officer"]["daily_sms_budget"] = 0  # time the webhook only
        cfg["device_rules"]["N1.gauge"] = {
            "rules": [{"id": "level_warning", "kind": "threshold", "metric": "level", "above": 3.5, "clear_below": 3.3}]
        }
        settings = with_broker(write_files(Path(d), cfg), mosq)
        async with hub_and_agent(settings) as (_hub, agent):
            for i in range(trips):
                got.clear()
                n0 = len(arrivals)
                t0 = time.perf_counter()
                await agent.reading("N1", "gauge", "level", 3.8 if i % 2 == 0 else 3.0)
                while len(arrivals) == n0:
                    await asyncio.to_thread(got.wait, 5)
                lat.append(arrivals[n0] - t0)
    lat.sort()
    return {
        "trips": float(len(lat)),
        "p50_ms": 1000 * statistics.median(lat),
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))],
        "max_ms": 1000 * lat[-1],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--trips", type=int, default=200)
    args = ap.parse_args()
    print("part 1:", {k: round(v, 2) for k, v in asyncio.run(part1(args.seconds)).items()})
    print("part 2:", {k: round(v, 1) for k, v in asyncio.run(part2(args.trips)).items()})


if __name__ == "__main__":
    main()
