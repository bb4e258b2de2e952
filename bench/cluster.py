"""Province tier benchmark: points/s and CPU per point of each tier, against one county hub in the same run.

Run from the repository root (it starts every server itself, on loopback):

    python -m bench.cluster [--messages 20000] [--nodes 64] [--workers 1,2,3]

Every message is one telemetry batch of 10 readings of one of ``--nodes`` nodes.

(a) County baseline: one hub process (``citysense-hub run``) subscribed to
    Mosquitto, storing into VictoriaMetrics, with every message pre-queued in
    its session (published with ``mosquitto_pub -l``): points/s from the first
    to the last stored reading, and CPU-seconds per 1,000 points of the hub,
    the broker and the store.
(b) Province: a 3-node NATS cluster (JetStream R3, MQTT on every node), the
    same messages published over MQTT with ``mosquitto_pub -l`` across the
    three MQTT listeners into the partitioned stream (the broker tier's
    ingest CPU is measured here), then 1, 2 and 3 hub workers
    (``citysense-hub run`` with a ``cluster:`` section, a shared PostgreSQL
    registry) consume it into VictoriaMetrics: points/s, and CPU per 1,000
    points of the workers, the NATS servers (delivery) and the store.

Every figure is printed with its ratio to (a). "Stored" is read from the
workers' own ``citysense_readings_stored_total`` on ``/metrics``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from hub.cluster.partitions import PartitionMap
from tests.harness import MosquittoServer
from tests.harness.nats import NatsCluster
from tests.harness.ports import free_port
from tests.harness.postgres import PostgresServer
from tests.harness.victoria import VictoriaServer
from tests.hub.conftest import FLEET, KIND, PROFILE

PER_MSG = 10
ROOT = Path(__file__).resolve().parents[1]
PARTITIONS = 16


def cpu_s(pid: int) -> float:
    """User + system CPU-seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of(pids: Iterable[int]) -> float:
    return sum(cpu_s(p) for p in pids)


def tree_cpu(root: int) -> dict[int, float]:
    """CPU-seconds of ``root`` and every live descendant (PostgreSQL: the postmaster and one backend per
    connection), by pid."""
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                parent[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    tree, todo = {root}, [root]
    while todo:
        here = todo.pop()
        kids = [p for p, pp in parent.items() if pp == here]
        tree.update(kids)
        todo += kids
    out = {}
    for pid in tree:
        with contextlib.suppress(OSError):
            out[pid] = cpu_s(pid)
    return out


def messages(nodes: Sequence[str], n: int, t0: int) -> dict[str, list[str]]:
    """``n`` messages, round-robin over ``nodes``, as one JSON line each, per node."""
    out: dict[str, list[str]] = {node: [] for node in nodes}
    for i in range(n):
        node = nodes[i % len(nodes)]
        seq = len(out[node])
        base = t0 + seq * PER_MSG
        readings = [
            {"device": "gauge", "metric": "level", "value": (seq % 4000) / 100, "unit": "m", "ts_ms": base + k}
            for k in range(PER_MSG)
        ]
        batch = {"v": 1, "node": node, "epoch": "bench", "seq": seq, "sent_ms": base, "readings": readings}
        out[node].append(json.dumps(batch, separators=(",", ":")))
    return out


def publish(host: str, port: int, node: str, lines: list[str]) -> None:
    """Publish one node's messages with the C client at QoS 1."""
    topic = f"citysense/v1/{node}/telemetry"
    subprocess.run(
        ["mosquitto_pub", "-h", host, "-p", str(port), "-q", "1", "-t", topic, "-l", "-i", f"bench-{node}"],
        input="\n".join(lines).encode() + b"\n",
        check=True,
    )


def write_site(work: Path, nodes: Sequence[str]) -> dict[str, str]:
    (work / "profiles").mkdir(exist_ok=True)
    (work / "profiles" / "test_gauge.yaml").write_text(PROFILE)
    (work / "kinds").mkdir(exist_ok=True)
    (work / "kinds" / "test_site.yaml").write_text(KIND)
    fleet = {**FLEET, "nodes": [{**FLEET["nodes"][0], "id": n} for n in nodes]}  # type: ignore[index]
    (work / "fleet.yaml").write_text(json.dumps(fleet))
    return {
        "profiles_dir": str(work / "profiles"),
        "node_kinds_dir": str(work / "kinds"),
        "fleet_file": str(work / "fleet.yaml"),
    }


@dataclass
class Hub:
    proc: subprocess.Popen[bytes]
    port: int


def start_hub(work: Path, name: str, cfg: Mapping[str, object], log_level: str = "WARNING") -> Hub:
    """Start ``citysense-hub run`` as a process; its log is appended to ``<name>.log`` (a restart keeps the first)."""
    port = free_port()
    path = work / f"{name}.yaml"
    path.write_text(json.dumps({**cfg, "api_port": port, "data_dir": str(work / name)}))
    with (work / f"{name}.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "run", "--config", str(path), "--log-level", log_level],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Hub(proc, port)


async def stored_by(client: httpx.AsyncClient, hub: Hub) -> int | None:
    """The hub's ``citysense_readings_stored_total``; ``None`` while it does not answer."""
    try:
        text = (await client.get(f"http://127.0.0.1:{hub.port}/metrics")).text
    except httpx.HTTPError:
        return None
    return sum(
        int(float(line.split()[-1])) for line in text.splitlines() if line.startswith("citysense_readings_stored_total")
    )


async def stored(client: httpx.AsyncClient, hubs: Sequence[Hub]) -> int:
    return sum([n for hub in hubs if (n := await stored_by(client, hub)) is not None])


@dataclass
class Window:
    """The timed part of a run: the points stored in it, its wall time and each process's CPU-seconds in it."""

    points: int
    wall_s: float
    cpu: dict[int, float]


async def timed_until(hubs: Sequence[Hub], total: int, deadline_s: float, pids: Sequence[int] = ()) -> Window:
    """From the first stored reading until ``total`` are stored, with the CPU of ``pids`` meanwhile (start-up,
    imports and migrations left out, and the readings stored before the first scrape too).

    Each ``/metrics`` scrape costs the hub a registry query, so the end is watched every 0.5 s and the moment
    the count crossed ``total`` interpolated between the last two scrapes.
    """
    async with httpx.AsyncClient(timeout=5) as client:
        deadline = time.perf_counter() + deadline_s
        while (first := await stored(client, hubs)) == 0:
            if time.perf_counter() > deadline:
                raise TimeoutError("nothing stored")
            await asyncio.sleep(0.02)
        start, cpu0 = time.perf_counter(), {p: cpu_s(p) for p in pids}
        before, then = first, start
        while True:
            await asyncio.sleep(0.5)
            now, count = time.perf_counter(), await stored(client, hubs)
            if count >= total:
                break
            if now > deadline:
                raise TimeoutError(f"only {count} of {total} stored")
            before, then = count, now
        cpu = {p: cpu_s(p) - c for p, c in cpu0.items()}
        end = then + (now - then) * (total - before) / max(count - before, 1)
        return Window(total - first, end - start, cpu)


async def subscribed(hub: Hub, deadline_s: float) -> None:
    """Wait until the hub's MQTT session is subscribed (its ``citysense_ingest_connected`` gauge is 1)."""
    async with httpx.AsyncClient(timeout=5) as client:
        deadline = time.perf_counter() + deadline_s
        while time.perf_counter() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                text = (await client.get(f"http://127.0.0.1:{hub.port}/metrics")).text
                if any(line.startswith("citysense_ingest_connected 1") for line in text.splitlines()):
                    return
            await asyncio.sleep(0.2)
    raise TimeoutError("the county hub never subscribed")


def stop(hubs: Sequence[Hub]) -> None:
    for hub in hubs:
        hub.proc.terminate()
    for hub in hubs:
        try:
            hub.proc.wait(30)
        except subprocess.TimeoutExpired:
            hub.proc.kill()


def victoria_pid(vm: VictoriaServer) -> int:
    assert vm._proc is not None
    return vm._proc.pid


async def county(work: Path, site: dict[str, str], batches: dict[str, list[str]], total: int) -> dict[str, float]:
    with MosquittoServer() as broker, VictoriaServer(dedup=True) as vm:
        cfg = {**site, "mqtt_url": broker.url, "mqtt_client_id": "bench-hub", "victoria": {"insert_url": vm.url}}
        hub = start_hub(work, "county", cfg)  # creates its persistent session, then the queue is filled
        try:
            await subscribed(hub, 60)
            hub.proc.terminate()
            hub.proc.wait(30)
            for node, lines in batches.items():
                await asyncio.to_thread(publish, broker.host, broker.port, node, lines)
            assert broker._proc is not None
            hub = start_hub(work, "county", cfg)
            pids = {"hub": hub.proc.pid, "broker": broker._proc.pid, "store": victoria_pid(vm)}
            w = await timed_until([hub], total, 300, list(pids.values()))
            return {"points_s": w.points / w.wall_s} | {k: w.cpu[p] / w.points * 1000 for k, p in pids.items()}
        finally:
            stop([hub])


async def province(
    work: Path, site: dict[str, str], batches: dict[str, list[str]], total: int, workers: int
) -> dict[str, float]:
    pmap = PartitionMap(PARTITIONS)
    run = work / f"w{workers}"
    run.mkdir()
    cluster = NatsCluster(3, extra_conf=pmap.mapping_conf())
    with cluster as nats, PostgresServer() as pg, VictoriaServer(dedup=True) as vm:
        nats_pids = [n._proc.pid for n in nats.nodes if n._proc is not None]
        cfg: dict[str, object] = {
            **site,
            "mqtt_url": f"mqtt://127.0.0.1:{nats.nodes[0].mqtt_port}",
            "registry_url": pg.url,
            "victoria": {"insert_url": vm.url},
        }
        first = start_hub(run, "w0", {**cfg, "cluster": {"nats_urls": nats.urls, "partitions": PARTITIONS}})
        try:  # the first worker creates the stream and the registry; then the stream is filled over MQTT
            await asyncio.sleep(6)
        finally:
            stop([first])
        before = cpu_of(nats_pids)
        t = time.perf_counter()
        for i, (node, lines) in enumerate(batches.items()):
            host, port = nats.mqtt_endpoints[i % 3]
            await asyncio.to_thread(publish, host, port, node, lines)
        publish_s = time.perf_counter() - t
        out = {"broker_ingest": (cpu_of(nats_pids) - before) / total * 1000, "mqtt_in_points_s": total / publish_s}
        hubs = []
        for i in range(workers):
            section = {"nats_urls": nats.urls, "partitions": PARTITIONS, "worker": f"bench-{i + 1}"}
            hubs.append(start_hub(run, f"w{i + 1}", {**cfg, "cluster": section}))
        try:
            worker_pids = [h.proc.pid for h in hubs]
            assert pg._proc is not None
            pg0 = tree_cpu(pg._proc.pid)
            w = await timed_until(hubs, total, 600, [*worker_pids, *nats_pids, victoria_pid(vm)])
            # Backends that ended inside the window are missed: the workers keep their pooled connections.
            out["registry_db"] = sum(c - pg0.get(p, 0.0) for p, c in tree_cpu(pg._proc.pid).items()) / w.points * 1000
            out["points_s"] = w.points / w.wall_s
            out["workers"] = sum(w.cpu[p] for p in worker_pids) / w.points * 1000
            out["broker_delivery"] = sum(w.cpu[p] for p in nats_pids) / w.points * 1000
            out["store"] = w.cpu[victoria_pid(vm)] / w.points * 1000
        finally:
            stop(hubs)
        return out


async def main(args: argparse.Namespace) -> None:
    nodes = [f"B{i:03d}" for i in range(args.nodes)]
    t0 = time.time_ns() // 1_000_000 - 3_000_000
    batches = messages(nodes, args.messages, t0)
    total = args.messages * PER_MSG
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        work = Path(tmp)
        site = write_site(work, nodes)
        base = await county(work, site, batches, total)
        print(f"messages {args.messages} x {PER_MSG} readings, {args.nodes} nodes, {PARTITIONS} partitions")
        print(f"(a) county hub on Mosquitto -> VictoriaMetrics: {base['points_s']:,.0f} points/s; CPU-s per 1k points:"
              f" hub {base['hub']:.4f}, broker {base['broker']:.4f}, store {base['store']:.4f}")  # fmt: skip
        for n in (int(w) for w in args.workers.split(",")):
            r = await province(work, site, batches, total, n)
            broker = r["broker_ingest"] + r["broker_delivery"]
            print(f"(b) {n} worker(s) on 3 NATS nodes -> VictoriaMetrics: {r['points_s']:,.0f} points/s"
                  f" = {r['points_s'] / base['points_s']:.2f}x (a); CPU-s per 1k points: workers {r['workers']:.4f}"
                  f" ({r['workers'] / base['hub']:.2f}x the county hub), NATS ingest {r['broker_ingest']:.4f}"
                  f" + delivery {r['broker_delivery']:.4f} ({broker / max(base['broker'], 1e-9):.1f}x Mosquitto),"
                  f" store {r['store']:.4f}, PostgreSQL {r['registry_db']:.4f};"
                  f" MQTT into the stream {r['mqtt_in_points_s']:,.0f} points/s",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--nodes", type=int, default=64)
    parser.add_argument("--workers", default="1,2,3")
    asyncio.run(main(parser.parse_args()))
