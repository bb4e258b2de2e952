"""Hub ingest benchmark: broker and InfluxDB baselines, then one hub process between them.

Run from the repository root (it starts its own Mosquitto and InfluxDB):

    python -m bench.hub_ingest [--messages 20000] [--rate 1000]

(a) Mosquitto alone: ``mosquitto_pub -l`` (C client, QoS 1) → ``mosquitto_sub``
    (C client, QoS 1, persistent session), the hub's message shape.
(b) InfluxDB alone: the same points as line protocol, encoded beforehand
    and gzip'ed as the hub sends them (plain with ``--plain``), POSTed to
    ``/write`` in bodies of the hub's batch shape (``--batch-messages``
    messages), one after the other. Only the
    POSTs are timed: encoding is the hub's work, not InfluxDB's. For reference,
    (b') also times ``InfluxV1Store.write`` (Python encoding + the same POSTs).
(c) One hub process (``python -m hub.cli run``) from the broker to InfluxDB:
    the same messages pre-queued in its session, points/s until all are
    queryable; then a paced run at ``--rate`` messages/s for publish-to-queryable
    latency (p50/p99) and the hub's CPU use.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiomqtt
import httpx

from citysense.quality import Quality
from hub.store.base import StoredReading
from hub.store.influx_v1 import InfluxV1Store
from hub.store.lineprotocol import encode
from tests.harness import InfluxServer, MosquittoServer
from tests.hub.conftest import FLEET, KIND, PROFILE

PER_MSG = 10
TOPIC = "citysense/v1/N1/telemetry"
ROOT = Path(__file__).resolve().parents[1]


def message(seq: int, t0: int) -> str:
    readings = [
        {
            "device": "gauge",
            "metric": "level",
            "value": (seq % 4000) / 100,
            "unit": "m",
            "ts_ms": t0 + seq * PER_MSG + i,
        }
        for i in range(PER_MSG)
    ]
    return json.dumps({"v": 1, "node": "N1", "seq": seq, "sent_ms": t0, "readings": readings}, separators=(",", ":"))


def publish_lines(broker: MosquittoServer, lines: list[str]) -> None:
    """Publish one message per line with the C client at QoS 1."""
    subprocess.run(
        ["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-q", "1", "-t", TOPIC, "-l"],
        input="\n".join(lines).encode() + b"\n",
        check=True,
    )


def raw_mosquitto(broker: MosquittoServer, lines: list[str]) -> float:
    """Messages/s through the broker with the C clients at QoS 1."""
    sub = subprocess.Popen(
        ["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-q", "1", "-t", TOPIC, "-C", str(len(lines))],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    t = time.perf_counter()
    publish_lines(broker, lines)
    sub.wait(120)
    return len(lines) / (time.perf_counter() - t)


def bench_points(n: int, t0: int) -> list[StoredReading]:
    """The readings of ``n`` benchmark messages as the hub stores them."""
    return [
        StoredReading(
            "N1",
            "N1.gauge",
            "test_gauge",
            "level",
            (s % 4000) / 100,
            "m",
            t0 + s * PER_MSG + i,
            Quality.GOOD,
            {"dept": "water", "town": "440981103"},
        )
        for s in range(n)
        for i in range(PER_MSG)
    ]


async def raw_influx(url: str, n: int, t0: int, batch_messages: int, *, gzipped: bool) -> float:
    """Points/s InfluxDB ingests: pre-encoded line protocol, ``batch_messages`` messages per POST."""
    pts = bench_points(n, t0)
    step = batch_messages * PER_MSG
    lines = encode(pts)
    chunks = ["\n".join(lines[i : i + step]).encode() for i in range(0, len(lines), step)]
    bodies = [gzip.compress(chunk, compresslevel=1) for chunk in chunks] if gzipped else chunks
    headers = {"Content-Type": "text/plain; charset=utf-8"} | ({"Content-Encoding": "gzip"} if gzipped else {})
    params = {"db": "bench_raw", "precision": "ms"}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        (await client.post("/query", data={"q": "CREATE DATABASE bench_raw"})).raise_for_status()
        t = time.perf_counter()
        for body in bodies:
            (await client.post("/write", params=params, content=body, headers=headers)).raise_for_status()
        return len(pts) / (time.perf_counter() - t)


async def store_write(url: str, n: int, t0: int, batch_messages: int, *, gzipped: bool) -> float:
    """Points/s of ``InfluxV1Store.write`` (the hub's encoder plus the POSTs), ``batch_messages`` per write."""
    store = InfluxV1Store(url, "bench_store", gzip=gzipped)
    await store.start()
    pts = bench_points(n, t0)
    step = batch_messages * PER_MSG
    t = time.perf_counter()
    for i in range(0, len(pts), step):
        await store.write(pts[i : i + step])
    rate = len(pts) / (time.perf_counter() - t)
    await store.close()
    return rate


async def count(store: InfluxV1Store, t0: int, t1: int | None = None) -> int:
    """Points of the benchmark's series from ``t0`` (up to ``t1``, exclusive) that a query sees."""
    until = "" if t1 is None else f" AND time < {t1}ms"
    (res,) = await store._query([f'SELECT count("level") FROM "test_gauge" WHERE time >= {t0}ms{until}'])
    series = res.get("series") or []
    return int(series[0]["values"][0][1]) if series else 0


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_hub_config(
    work: Path, broker: MosquittoServer, influx: dict[str, object], client_id: str, api_port: int
) -> Path:
    """Write a hub's settings (node N1 with device gauge, InfluxDB store ``influx``) to ``work/hub.yaml``."""
    (work / "profiles").mkdir(parents=True, exist_ok=True)
    (work / "profiles" / "test_gauge.yaml").write_text(PROFILE)
    (work / "kinds").mkdir(exist_ok=True)
    (work / "kinds" / "test_site.yaml").write_text(KIND)
    (work / "fleet.yaml").write_text(json.dumps(FLEET))
    cfg = {
        "data_dir": str(work / "data"),
        "mqtt_url": broker.url,
        "mqtt_client_id": client_id,
        "influx": influx,
        "api_port": api_port,
        "profiles_dir": str(work / "profiles"),
        "node_kinds_dir": str(work / "kinds"),
        "fleet_file": str(work / "fleet.yaml"),
    }
    (work / "hub.yaml").write_text(json.dumps(cfg))
    return work / "hub.yaml"


async def hub_run(
    broker: MosquittoServer, influx: InfluxServer, n: int, rate: float, work: Path, *, gzipped: bool = True
) -> dict[str, float]:
    write_hub_config(work, broker, {"url": influx.url, "database": "bench_hub", "gzip": gzipped}, "bench-hub", 0)
    async with aiomqtt.Client(broker.host, broker.port, identifier="bench-hub", clean_session=False) as c:
        await c.subscribe("citysense/v1/+/telemetry", qos=1)
        await c.subscribe("citysense/v1/+/status", qos=1)
    now = time.time_ns() // 1_000_000
    t0 = now - 3_000_000  # inside the hub's past-timestamp window
    lines = [message(s, t0) for s in range(n)]
    await asyncio.to_thread(publish_lines, broker, lines)
    store = InfluxV1Store(influx.url, "bench_hub")
    log = (work / "hub.log").open("wb")
    hub = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "run", "--config", str(work / "hub.yaml"), "--log-level", "WARNING"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    out: dict[str, float] = {}
    try:
        # Queryable means visible to a query: polling InfluxDB is what is measured here. The clock starts
        # when the first message's points are visible (the hub's start-up is left out) and stops when all are.
        # The polls ask about one message's points (10): counting all 400,000 took InfluxDB ~50 ms each
        # time, a third of a core stolen from the ingest being measured. The full count confirms the end.
        first, last = (t0, t0 + PER_MSG), (t0 + (n - 1) * PER_MSG, t0 + n * PER_MSG)
        while await _safe_count(store, *first) == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        t = time.perf_counter()
        while await _safe_count(store, *last) < PER_MSG:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        done = time.perf_counter()
        while await _safe_count(store, t0) < n * PER_MSG:  # a group written out of order: wait for it
            await asyncio.sleep(0.1)
            done = time.perf_counter()
        out["hub_points_s"] = n * PER_MSG / (done - t)
        # Paced phase: `rate` messages/s for 10 s; latency = first poll that shows a batch minus its publish time.
        t1 = t0 + n * PER_MSG + 1000
        m = int(rate * 10)
        sent: list[float] = []
        cpu0, w0 = cpu_s(hub.pid), time.perf_counter()
        async with aiomqtt.Client(broker.host, broker.port, identifier="bench-agent") as c:

            async def poll() -> list[float]:
                seen_at: list[float] = []
                while len(seen_at) < m:
                    k = await _safe_count(store, t1) // PER_MSG
                    now_p = time.perf_counter()
                    seen_at += [now_p] * (k - len(seen_at))
                    await asyncio.sleep(0.02)
                return seen_at

            poller = asyncio.create_task(poll(), name="poll")
            start = time.perf_counter()
            for s in range(m):
                await asyncio.sleep(max(0.0, start + s / rate - time.perf_counter()))
                sent.append(time.perf_counter())
                await c.publish(TOPIC, message(n + 100 + s, t1 - (n + 100) * PER_MSG), qos=1)
            seen_at = await poller
        out["paced_cpu_cores"] = (cpu_s(hub.pid) - cpu0) / (time.perf_counter() - w0)
        lat = sorted(b - a for a, b in zip(sent, seen_at, strict=True))
        out["latency_p50_ms"] = lat[len(lat) // 2] * 1000
        out["latency_p99_ms"] = lat[int(len(lat) * 0.99)] * 1000
    finally:
        hub.kill()
        hub.wait(10)
        log.close()
        await store.close()
    return out


async def _safe_count(store: InfluxV1Store, t0: int, t1: int | None = None) -> int:
    try:
        return await count(store, t0, t1)
    except Exception:
        return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--batch-messages", type=int, default=500)
    ap.add_argument("--rate", type=float, default=1000.0, help="messages/s of the paced latency run")
    ap.add_argument(
        "--inflight",
        type=int,
        default=100,
        help="broker max_inflight_messages (unacknowledged QoS 1 messages per client; the test harness's 100)",
    )
    ap.add_argument(
        "--plain", action="store_true", help="the hub writes plain line protocol (influx.gzip false), so does (b)"
    )
    args = ap.parse_args()
    t0 = time.time_ns() // 1_000_000 - 3_000_000
    lines = [message(s, t0) for s in range(args.messages)]
    with (
        MosquittoServer(max_inflight_messages=args.inflight) as broker,
        InfluxServer() as influx,
        tempfile.TemporaryDirectory() as tmp,
    ):
        a_msgs = raw_mosquitto(broker, lines)
        b_pts = asyncio.run(raw_influx(influx.url, args.messages, t0, args.batch_messages, gzipped=not args.plain))
        b_store = asyncio.run(store_write(influx.url, args.messages, t0, args.batch_messages, gzipped=not args.plain))
        c = asyncio.run(hub_run(broker, influx, args.messages, args.rate, Path(tmp), gzipped=not args.plain))
    a_pts = a_msgs * PER_MSG
    print(f"message: {PER_MSG} readings, {len(lines[0])} bytes; {args.messages} messages; inflight {args.inflight}")
    print(f"(a) mosquitto C clients QoS 1:   {a_msgs:10.0f} msg/s = {a_pts:10.0f} points/s")
    shape = f"{args.batch_messages * PER_MSG} points/write, {'plain' if args.plain else 'gzip'}"
    print(f"(b) InfluxDB line protocol:      {b_pts:10.0f} points/s ({shape})")
    print(f"(b') InfluxV1Store.write:        {b_store:10.0f} points/s (hub encoder + the same writes)")
    print(
        f"(c) hub broker -> InfluxDB:      {c['hub_points_s']:10.0f} points/s "
        f"= {c['hub_points_s'] / min(a_pts, b_pts):.0%} of min(a, b)"
    )
    print(
        f"    paced {args.rate:.0f} msg/s ({args.rate * PER_MSG:.0f} points/s): "
        f"hub CPU {c['paced_cpu_cores']:.2f} cores, "
        f"publish-to-queryable p50 {c['latency_p50_ms']:.0f} ms, p99 {c['latency_p99_ms']:.0f} ms"
    )


if __name__ == "__main__":
    main()
