"""The province tier's kill run: real agents, workers and servers as processes; faults by SIGKILL; nothing lost.

Run from the repository root (it starts every server itself, on loopback):

    python -m bench.cluster_failover [--agents 8] [--devices 4] [--steady-s 20]

What runs: a 3-node NATS cluster (JetStream R3, MQTT on every node),
PostgreSQL (registry, ledger, alarms), VictoriaMetrics, hub workers
(``citysense-hub run`` with ``cluster:`` and default lease timings) and
``--agents`` edge agents (``citysense-agent run``), each polling ``--devices``
simulated Modbus devices every 0.5 s and connected to one NATS member with
the two others as ``failover_urls``. Every device counts its reads (holding
register 0) and holds a square wave in register 1 (high for 20 reads, low for
20) against a threshold rule with ``for_s: 2``; the alarms go to a webhook
served here.

The faults, one after the other, each after ``--steady-s`` of steady flow:
SIGKILL of the telemetry stream's leader (restarted after the recovery);
SIGKILL of a worker; its restart; a third worker added; a worker stopped
(SIGTERM). For each, the recovery time: from the fault until the workers
have stored as many readings as the devices had been read at the fault.

At the end the devices stop counting, and the run checks against the
devices' own counters: every count value a device served is stored (none
lost), each complete high phase of every device raised exactly one alarm,
and every alarm was delivered to the webhook under exactly one webhook id.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa
import yaml
from pymodbus.simulator import DataType, SimData, SimDevice

from bench.cluster import Hub, start_hub, stop, stored_by
from hub.cluster.partitions import STREAM, PartitionMap
from tests.agent.support import modbus_tcp_server
from tests.harness.jetstream import stream_leader
from tests.harness.nats import NatsCluster
from tests.harness.postgres import PostgresServer
from tests.harness.victoria import VictoriaServer

ROOT = Path(__file__).resolve().parents[1]
PARTITIONS = 16
POLL_S = 0.5
HALF_WAVE = 20  # reads high, then reads low
PROFILE = """
id: fo_counter
model: Failover counter
manufacturer: Test
source: written for bench/cluster_failover.py
category: test
expected_interval_s: 0.5
points:
  - {metric: count, table: holding, address: 0, type: uint16}
  - {metric: level, table: holding, address: 1, type: int16, scale: 0.01, unit: m}
alerts:
  - {id: high, kind: threshold, metric: level, above: 0.5, clear_below: 0.5, for_s: 2, severity: warning}
"""


@dataclass
class Devices:
    """Simulated devices: register 0 counts reads, register 1 is high (1.00 m) for HALF_WAVE reads of every 2."""

    reads: dict[int, int] = field(default_factory=dict)
    stopping: bool = False  # each device stops counting at its next low half-wave
    frozen: set[int] = field(default_factory=set)
    all_frozen: asyncio.Event = field(default_factory=asyncio.Event)
    units: int = 0

    @staticmethod
    def high(count: int) -> bool:
        return ((count - 1) // HALF_WAVE) % 2 == 1

    def device(self, unit: int) -> SimDevice:
        async def act(fc: int, start: int, address: int, n: int, regs: list[int], values: object) -> None:
            if fc == 3 and values is None and address <= 0 and address + n >= 2:
                c = self.reads.get(unit, 0)
                if self.stopping and not self.high(c):
                    self.frozen.add(unit)
                    if len(self.frozen) == self.units:
                        self.all_frozen.set()
                if unit not in self.frozen:
                    c = self.reads[unit] = c + 1
                regs[0 - start], regs[1 - start] = c & 0xFFFF, 100 if self.high(c) else 0

        return SimDevice(unit, simdata=[SimData(0, count=10, values=0, datatype=DataType.REGISTERS)], action=act)

    def polled(self) -> int:
        return sum(self.reads.values())


@dataclass
class Webhook:
    """A local HTTP endpoint that answers 200 and keeps every (webhook-id, body)."""

    got: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.got.append((headers.get("webhook-id", ""), json.loads(body or b"{}")))
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def write_site(work: Path, nodes: list[str], devices: int) -> dict[str, str]:
    (work / "profiles").mkdir()
    (work / "profiles" / "fo_counter.yaml").write_text(PROFILE)
    (work / "kinds").mkdir()
    kind = {
        "kind": "fo_site",
        "name": "Failover site",
        "department": "water",
        "connections": [{"id": "bus", "type": "modbus_tcp"}],
        "devices": [
            {"id": f"d{i}", "profile": "fo_counter", "connection": "bus", "unit_id": i + 1} for i in range(devices)
        ],
    }
    (work / "kinds" / "fo_site.yaml").write_text(yaml.safe_dump(kind))
    fleet = {
        "regions": [
            {"code": "440981", "name": "City", "level": "city"},
            {"code": "440981103", "name": "Town", "level": "town", "parent": "440981"},
        ],
        "departments": [{"id": "water", "name": "Water"}],
        "nodes": [
            {"id": n, "kind": "fo_site", "region": "440981103", "endpoints": {"bus": {"host": "h", "port": 1}}}
            for n in nodes
        ],
    }
    (work / "fleet.yaml").write_text(yaml.safe_dump(fleet))
    return {
        "profiles_dir": str(work / "profiles"),
        "node_kinds_dir": str(work / "kinds"),
        "fleet_file": str(work / "fleet.yaml"),
    }


def write_alerts(work: Path, webhook_port: int) -> Path:
    path = work / "alerts.yaml"
    hook = {"type": "webhook", "url": f"http://127.0.0.1:{webhook_port}/hook", "secret": "bench-secret"}
    policy = {"name": "all", "match": {}, "channels": ["hook"], "group_wait_s": 0, "repeat_interval_s": 86400}
    path.write_text(yaml.safe_dump({"channels": {"hook": hook}, "policies": [policy]}))
    return path


def start_agent(
    work: Path, node: str, i: int, modbus_port: int, mqtt: list[str], devices: int
) -> subprocess.Popen[bytes]:
    urls = mqtt[i % len(mqtt) :] + mqtt[: i % len(mqtt)]
    cfg = {
        "node_id": node,
        "hub": {"url": urls[0], "failover_urls": urls[1:], "connect_timeout_s": 3},
        "profiles_dir": str(work / "profiles"),
        "connections": [{"id": "bus", "type": "modbus_tcp", "host": "127.0.0.1", "port": modbus_port}],
        "devices": [
            {
                "id": f"d{d}",
                "profile": "fo_counter",
                "connection": "bus",
                "unit_id": i * devices + d + 1,
                "poll_interval_s": POLL_S,
            }
            for d in range(devices)
        ],
        "uplink": {"batch_max_wait_s": 0.2, "status_interval_s": 5},
    }
    path = work / f"agent-{node}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    log = (work / f"agent-{node}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "edge_agent.cli", "run", "--config", str(path), "--state-dir", str(work / node)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


@dataclass
class Workers:
    """The running workers and the stored count of each worker process ever started (kept after it dies)."""

    work: Path
    cfg: dict[str, object]
    live: dict[str, Hub] = field(default_factory=dict)
    counted: dict[int, int] = field(default_factory=dict)

    def start(self, name: str) -> None:
        section = {**self.cfg["cluster"], "worker": name}  # type: ignore[dict-item]
        self.live[name] = start_hub(self.work, name, {**self.cfg, "cluster": section}, log_level="INFO")

    async def stored(self, client: httpx.AsyncClient) -> int:
        for hub in self.live.values():
            if (n := await stored_by(client, hub)) is not None:
                self.counted[hub.proc.pid] = n
        return sum(self.counted.values())


async def recovery(workers: Workers, devices: Devices, metrics: int, deadline_s: float = 120) -> float:
    """Seconds until the workers stored as many readings as the devices had served when this was called."""
    target, t0 = devices.polled() * metrics, time.perf_counter()
    async with httpx.AsyncClient(timeout=2) as client, asyncio.timeout(deadline_s):
        while await workers.stored(client) < target:  # noqa: ASYNC110 - counters read over HTTP: no event to wait on
            await asyncio.sleep(0.25)
    return time.perf_counter() - t0


async def export(vm_url: str, name: str) -> dict[str, list[tuple[int, float]]]:
    """Every sample of series ``name`` per device label: [(ts_ms, value)] sorted."""
    out: dict[str, list[tuple[int, float]]] = defaultdict(list)
    async with httpx.AsyncClient(timeout=30) as client:
        resp = await client.get(f"{vm_url}/api/v1/export", params={"match[]": f'{{__name__="{name}"}}'})
    for line in resp.text.splitlines():
        s = json.loads(line)
        out[s["metric"]["device"]].extend(zip(s["timestamps"], s["values"], strict=True))
    return {d: sorted(set(v)) for d, v in out.items()}


def check_alarms(
    pg_url: str, counts: dict[str, list[tuple[int, float]]], got: list[tuple[str, dict[str, object]]]
) -> dict[str, int]:
    """Alarms raised per complete high phase (must be 1) and webhook ids per alarm (must be 1)."""
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, device, rule_id, raised_ms FROM alarms")).all()
        # Raised and cleared before a notification was due (a backlog replayed after an outage): by design not sent.
        quiet = {i for (i,) in conn.execute(sa.text("SELECT alarm_id FROM alarm_events WHERE action = 'suppressed'"))}
    engine.dispose()
    phases: dict[tuple[str, int], tuple[int, int]] = {}  # (device, phase) -> (first high ts, first low ts after)
    for device, samples in counts.items():
        for (ts, value), (nts, _) in zip(samples, [*samples[1:], (2**62, 0.0)], strict=True):
            c = int(value)
            phase = (c - 1) // HALF_WAVE
            if Devices.high(c):
                first, _ = phases.get((device, phase), (ts, nts))
                phases[(device, phase)] = (first, nts)
    complete = {k for k in phases if any(int(c) > (k[1] + 1) * HALF_WAVE for _, c in counts[k[0]])}
    per_phase: Counter[tuple[str, int]] = Counter()
    strays: list[str] = []
    for _, device, rule, raised in rows:
        hit = [k for k, (a, b) in phases.items() if k[0] == device and a <= raised <= b + 3_000]
        if hit and rule == "high":
            per_phase[hit[0]] += 1
        else:
            strays.append(f"{device} {rule} at {raised}")
    if strays:
        print("alarms outside any high phase:", *strays, sep="\n  ")
    if doubles := [k for k, n in per_phase.items() if n > 1]:
        print("phases with 2+ alarms:", *(f"{d} phase {p} {phases[(d, p)]}" for d, p in doubles), sep="\n  ")
    hooks: dict[int, set[str]] = defaultdict(set)
    for wid, body in got:
        if body.get("type") == "alarm.raised":
            alarms: list[dict[str, object]] = body.get("alarms", [])  # type: ignore[assignment]
            for a in alarms:
                hooks[int(str(a["id"]))].add(wid)
    ids = {r[0] for r in rows}
    if undelivered := [r for r in rows if not hooks.get(r[0]) and r[0] not in quiet]:
        print("alarms never delivered:", *(f"{r[1]} {r[2]} at {r[3]} (id {r[0]})" for r in undelivered), sep="\n  ")
    return {
        "complete high phases": len(complete),
        "phases with no alarm": sum(1 for k in complete if per_phase[k] == 0),
        "phases with 2+ alarms": sum(1 for n in per_phase.values() if n > 1),
        "alarms outside any phase or of another rule": len(strays),
        "alarms cleared before a notification was due (suppressed by design)": len(quiet & ids),
        "alarms never delivered (and not suppressed)": len(undelivered),
        "alarms delivered under 2+ webhook ids": sum(1 for i in ids if len(hooks.get(i, ())) > 1),
    }


async def scenario(args: argparse.Namespace, work: Path) -> None:
    nodes = [f"F{i:02d}" for i in range(args.agents)]
    pmap = PartitionMap(PARTITIONS)
    devices, hook = Devices(), Webhook()
    units = [devices.device(u + 1) for u in range(args.agents * args.devices)]
    devices.units = len(units)
    webhook = await asyncio.start_server(hook.handle, "127.0.0.1", 0)
    hook_port = webhook.sockets[0].getsockname()[1]
    with (
        NatsCluster(3, extra_conf=pmap.mapping_conf()) as cluster,
        PostgresServer() as pg,
        VictoriaServer(dedup=True) as vm,
    ):
        site = write_site(work, nodes, args.devices)
        cfg: dict[str, object] = {
            **site,
            "mqtt_url": f"mqtt://127.0.0.1:{cluster.nodes[0].mqtt_port}",
            "registry_url": pg.url,
            "victoria": {"insert_url": vm.url},
            "alerts_file": str(write_alerts(work, hook_port)),
            "cluster": {"nats_urls": cluster.urls, "partitions": PARTITIONS},
        }
        workers = Workers(work, cfg)
        agents: list[subprocess.Popen[bytes]] = []
        async with modbus_tcp_server(units) as modbus_port:
            try:
                workers.start("w1")
                await asyncio.sleep(8)  # the first creates the stream and the registry schema
                workers.start("w2")
                mqtt = [f"mqtt://{h}:{p}" for h, p in cluster.mqtt_endpoints]
                agents = [start_agent(work, n, i, modbus_port, mqtt, args.devices) for i, n in enumerate(nodes)]
                await report("start (2 workers)", workers, devices, args.steady_s)

                async def kill_leader() -> None:
                    leader = cluster.node(await stream_leader(cluster.urls, STREAM))
                    print(f"  killing stream leader {leader.name}", flush=True)
                    await asyncio.to_thread(leader.kill)

                await fault("stream leader SIGKILL", kill_leader, workers, devices, args.steady_s)
                for n in cluster.nodes:  # the killed member rejoins and catches up (off the loop serving the devices)
                    await asyncio.to_thread(n.start)
                await asyncio.to_thread(cluster.wait_ready)

                async def kill_w2() -> None:
                    proc = workers.live.pop("w2").proc
                    proc.send_signal(signal.SIGKILL)
                    await asyncio.to_thread(proc.wait, 10)

                await fault("worker w2 SIGKILL", kill_w2, workers, devices, args.steady_s)
                await fault("worker w2 restarted", _call(lambda: workers.start("w2")), workers, devices, args.steady_s)
                await fault("worker w3 added", _call(lambda: workers.start("w3")), workers, devices, args.steady_s)

                async def remove_w1() -> None:
                    await asyncio.to_thread(stop, [workers.live.pop("w1")])

                await fault("worker w1 stopped (SIGTERM)", remove_w1, workers, devices, args.steady_s)
                devices.stopping = True  # on a low half-wave: every high phase is complete or not begun
                await asyncio.wait_for(devices.all_frozen.wait(), 60)
                print(f"devices stopped counting at {devices.polled()} reads", flush=True)
                await recovery(workers, devices, 2)
                await asyncio.sleep(15)  # alarms raised by now go through the outbox to the webhook
            finally:
                for a in agents:
                    a.terminate()
                for a in agents:
                    await asyncio.to_thread(a.wait, 30)
                await asyncio.to_thread(stop, list(workers.live.values()))
                webhook.close()
        counts = await export(vm.url, "fo_counter_count")
        lost: dict[str, list[int]] = {}
        for i, node in enumerate(nodes):
            for d in range(args.devices):
                served = devices.reads.get(i * args.devices + d + 1, 0)
                stored_values = {int(v) for _, v in counts.get(f"{node}.d{d}", [])}
                if missing := sorted(set(range(1, served + 1)) - stored_values):
                    lost[f"{node}.d{d}"] = missing
        print(f"readings: devices served {devices.polled()} reads; count values not stored: "
              f"{sum(len(v) for v in lost.values())} {lost or ''}")  # fmt: skip
        for k, v in check_alarms(pg.url, counts, hook.got).items():
            print(f"alarms: {k}: {v}")


def _call(fn: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        fn()

    return run


async def report(what: str, workers: Workers, devices: Devices, steady_s: float) -> None:
    await asyncio.sleep(steady_s)
    print(f"{what}: steady, caught up in {await recovery(workers, devices, 2):.1f} s", flush=True)


async def fault(
    what: str, act: Callable[[], Awaitable[None]], workers: Workers, devices: Devices, steady_s: float
) -> None:
    await act()
    print(f"{what}: recovered in {await recovery(workers, devices, 2):.1f} s", flush=True)
    await asyncio.sleep(steady_s)


async def main(args: argparse.Namespace) -> None:
    if args.work:  # kept afterwards: every process's log is there
        await scenario(args, Path(args.work))
        return
    with tempfile.TemporaryDirectory(prefix="bench-failover-") as tmp:
        await scenario(args, Path(tmp))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--devices", type=int, default=4)
    parser.add_argument("--steady-s", type=float, default=20.0)
    parser.add_argument("--work", help="a new directory to run in and keep (logs); default: a temporary one")
    arguments = parser.parse_args()
    if arguments.work:
        Path(arguments.work).mkdir(parents=True)
    asyncio.run(main(arguments))
