"""Benchmark: 500 simulated Modbus TCP devices x 30 points polled every second.

Measures the CitySense agent and, in the same run against the same simulated
devices and a local Mosquitto, thingsboard-gateway (installed from PyPI into
its own venv, ``--tbgw-python``) in two configurations: *block reads* (its
best: one ``"address": "a-b"`` range read per group of same-type points, four
requests per device) and *per point* (its default: one read per timeseries).
For each: points/s delivered to the broker, CPU-seconds per 1,000 points (the
agent process only, from /proc), peak RSS.

    python bench/agent_poll.py [--devices 500] [--warmup-s 15] [--measure-s 60] \
        [--tbgw-python /tmp/tbgw-venv/bin/python] [--tbgw-modes block,per_point]

Results go to stdout as Markdown (copied into docs/benchmarks-agent.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from citysense.contract import Channel, IngestAck, encode, topic  # noqa: E402
from tests.harness import MosquittoServer, free_port  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
POINTS = (
    [("u", i, "uint16", 1.0) for i in range(10)]
    + [("i", 10 + i, "int16", 0.1) for i in range(10)]
    + [("f", 20 + 2 * i, "float32", 1.0) for i in range(5)]
    + [("l", 30 + 2 * i, "uint32", 1.0) for i in range(5)]
)


@dataclass
class Result:
    name: str
    points_per_s: float
    cpu_s: float
    points: int
    peak_rss_mb: float

    @property
    def cpu_per_1000(self) -> float:
        return self.cpu_s / max(self.points, 1) * 1000

    @property
    def points_per_cpu_s(self) -> float:
        return self.points / self.cpu_s if self.cpu_s else 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime (all threads)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Counter:
    """Counts points arriving at the broker on one topic filter."""

    def __init__(self, broker: MosquittoServer, topic: str, kind: str) -> None:
        self.broker, self.topic, self.kind = broker, topic, kind
        self.points = 0
        self.ready = asyncio.Event()
        self.seen: set[int] = set()  # batch seqs received (citysense)
        self.acked = -1

    async def _hub_ack(self, client: aiomqtt.Client, batch: dict[str, Any]) -> None:
        """Count a batch once and acknowledge it as the hub does once it is durable (retained IngestAck).

        The agent keeps at most ``ack_window_batches`` batches unacknowledged in
        flight; without a hub answering, it would stop after the first window.
        """
        if batch["seq"] in self.seen:  # a re-sent copy: the hub's dedupe drops it
            return
        self.seen.add(batch["seq"])
        self.points += len(batch["readings"])
        while self.acked + 1 in self.seen:
            self.acked += 1
        ack = IngestAck(node=batch["node"], epoch=batch["epoch"], seq=self.acked, ts_ms=time.time_ns() // 1_000_000)
        await client.publish(topic(batch["node"], Channel.ACK), encode(ack), qos=1, retain=True)

    async def run(self) -> None:
        async with aiomqtt.Client(self.broker.host, self.broker.port, identifier=f"bench-{self.kind}") as client:
            await client.subscribe(self.topic, qos=0)
            if not self.kind.startswith("citysense"):
                # Stand in for the ThingsBoard server's side of the gateway API: answer the client's
                # getSessionLimits RPC (no rate limits), as a ThingsBoard without limits configured would.
                await client.subscribe("v1/devices/me/rpc/request/+", qos=1)
            self.ready.set()
            async for message in client.messages:
                if message.topic.matches("v1/devices/me/rpc/request/+"):
                    answer = {"rateLimits": {"messages": "0:0,", "telemetryMessages": "0:0,",
                                             "telemetryDataPoints": "0:0,"},
                              "maxInflightMessages": 1000, "maxPayloadSize": 65536}  # fmt: skip
                    reply = message.topic.value.replace("/request/", "/response/")
                    await client.publish(reply, json.dumps(answer), qos=1)
                    continue
                data = json.loads(message.payload)  # type: ignore[arg-type]
                if self.kind == "citysense":
                    await self._hub_ack(client, data)
                else:  # thingsboard gateway API: {"device": [{"ts": .., "values": {...}}]}
                    self.points += sum(len(e.get("values", {})) for entries in data.values() for e in entries)


async def measure(
    name: str, proc: subprocess.Popen[bytes], counter: Counter, warmup_s: float, measure_s: float
) -> Result:
    await asyncio.sleep(warmup_s)
    if proc.poll() is not None:
        raise RuntimeError(f"{name} exited with {proc.returncode} during warm-up")
    p0, c0, t0 = counter.points, cpu_seconds(proc.pid), time.monotonic()
    await asyncio.sleep(measure_s)
    p1, c1, t1 = counter.points, cpu_seconds(proc.pid), time.monotonic()
    rss = peak_rss_mb(proc.pid)
    return Result(name, (p1 - p0) / (t1 - t0), c1 - c0, p1 - p0, rss)


def citysense_config(work: Path, broker: MosquittoServer, ports: list[int]) -> Path:
    (work / "profiles").mkdir()
    points = [
        {"metric": f"{kind}{addr:02d}", "table": "holding", "address": addr, "type": dtype, "scale": scale}
        for kind, addr, dtype, scale in POINTS
    ]
    for p in points:
        if p["scale"] == 1.0:
            del p["scale"]
    profile = {"id": "bench30", "model": "bench", "manufacturer": "bench", "source": "bench", "category": "bench",
               "points": points}  # fmt: skip
    (work / "profiles" / "bench30.yaml").write_text(yaml.safe_dump(profile))
    cfg = {
        "node_id": "BENCH",
        "hub": {"url": broker.url},
        "profiles_dir": "profiles",
        "connections": [
            {"id": f"c{i}", "type": "modbus_tcp", "host": "127.0.0.1", "port": port, "timeout_s": 2}
            for i, port in enumerate(ports)
        ],
        "devices": [
            {"id": f"d{i}", "profile": "bench30", "connection": f"c{i}", "unit_id": 1, "poll_interval_s": 1}
            for i in range(len(ports))
        ],
        "uplink": {"batch_max_readings": 1000, "batch_max_wait_s": 0.5},
    }
    path = work / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


TB_TYPES = {"uint16": "16uint", "int16": "16int", "float32": "32float", "uint32": "32uint"}


def tbgw_series(mode: str) -> list[dict[str, object]]:
    """The 30 timeseries: one entry per point, or one range entry per group of same-type points."""
    series: list[dict[str, object]] = []
    if mode == "per_point":
        for kind, addr, dtype, scale in POINTS:
            entry = {"tag": f"{kind}{addr:02d}", "type": TB_TYPES[dtype], "functionCode": 3, "address": addr,
                     "objectsCount": 2 if dtype.endswith("32") else 1}  # fmt: skip
            if scale != 1.0:
                entry["divider"] = 10
            series.append(entry)
        return series
    groups: dict[str, list[tuple[str, int, str, float]]] = {}
    for point in POINTS:
        groups.setdefault(point[0], []).append(point)
    for kind, members in groups.items():  # thingsboard-gateway 3.8 "wide range" reads: "address": "first-last"
        first, last, dtype, scale = members[0][1], members[-1][1], members[0][2], members[0][3]
        width = 2 if dtype.endswith("32") else 1
        entry = {"tag": kind + "_${address}", "type": TB_TYPES[dtype], "functionCode": 3, "objectsCount": width,
                 "address": f"{first}-{last + width - 1}", "maxRegistersPerRequest": 125}  # fmt: skip
        if scale != 1.0:
            entry["divider"] = 10
        series.append(entry)
    return series


def tbgw_config(work: Path, broker: MosquittoServer, ports: list[int], mode: str) -> Path:
    conf = work / "config"
    conf.mkdir(parents=True)
    series = tbgw_series(mode)
    slaves = [
        {"host": "127.0.0.1", "port": port, "type": "tcp", "method": "socket", "unitId": 1, "deviceName": f"d{i}",
         "deviceType": "bench", "timeout": 2, "byteOrder": "BIG", "wordOrder": "BIG", "retries": 1,
         "pollPeriod": 1000, "sendDataOnlyOnChange": False, "attributes": [], "timeseries": series,
         "attributeUpdates": [], "rpc": []}
        for i, port in enumerate(ports)
    ]  # fmt: skip
    (conf / "modbus.json").write_text(json.dumps({"master": {"slaves": slaves}}))
    gateway = {
        "thingsboard": {
            "host": broker.host, "port": broker.port, "remoteShell": False, "remoteConfiguration": False,
            "statistics": {"enable": False, "statsSendPeriodInSeconds": 3600},
            "maxPayloadSizeBytes": 65536, "minPackSendDelayMS": 50, "minPackSizeToSend": 500,
            "checkConnectorsConfigurationInSeconds": 3600, "handleDeviceRenaming": False,
            "security": {"type": "accessToken", "accessToken": "bench"}, "qos": 1,
            "reportStrategy": {"type": "ON_RECEIVED"},
        },
        "storage": {"type": "memory", "read_records_count": 1000, "max_records_count": 1_000_000},
        "grpc": {"enabled": False},
        "connectors": [{"type": "modbus", "name": "Modbus", "configuration": "modbus.json"}],
    }  # fmt: skip
    (conf / "tb_gateway.json").write_text(json.dumps(gateway))
    (conf / "logs.json").write_text(json.dumps({"version": 1, "disable_existing_loggers": False,
                                                "root": {"level": "ERROR", "handlers": []}}))  # fmt: skip
    return conf


async def run(args: argparse.Namespace) -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-agent-") as tmp, MosquittoServer() as broker:
        work = Path(tmp)
        unique: set[int] = set()
        while len(unique) < args.devices:  # free_port() may hand out a port twice across calls
            unique.add(free_port())
        ports = sorted(unique)
        half = len(ports) // 2
        sims = [
            subprocess.Popen([sys.executable, str(ROOT / "bench" / "agent_sim.py"), ",".join(chunk)], cwd=ROOT)
            for chunk in ([str(p) for p in ports[:half]], [str(p) for p in ports[half:]])
        ]
        try:
            await asyncio.sleep(5)
            if any(sim.poll() is not None for sim in sims):
                raise RuntimeError("a device simulator failed to start; see its error above")
            async with asyncio.TaskGroup() as tg:
                cs = Counter(broker, "citysense/v1/+/telemetry", "citysense")
                task = tg.create_task(cs.run())
                await cs.ready.wait()
                config = citysense_config(work, broker, ports)
                agent = subprocess.Popen(
                    [sys.executable, "-m", "edge_agent.cli", "run", "--config", str(config),
                     "--state-dir", str(work / "state"), "--log-level", "WARNING"],
                    cwd=ROOT,
                )  # fmt: skip
                try:
                    results.append(await measure("citysense-agent", agent, cs, args.warmup_s, args.measure_s))
                finally:
                    agent.terminate()
                    try:
                        agent.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        print("citysense-agent did not stop within 30 s of SIGTERM; killed", file=sys.stderr)
                        agent.kill()
                        agent.wait()
                task.cancel()
            for mode in args.tbgw_modes.split(",") if args.tbgw_python else []:
                async with asyncio.TaskGroup() as tg:
                    tb = Counter(broker, "v1/gateway/telemetry", f"tbgw-{mode}")
                    task = tg.create_task(tb.run())
                    await tb.ready.wait()
                    home = work / f"tbgw-{mode}"
                    conf = tbgw_config(home, broker, ports, mode)
                    gw = subprocess.Popen(
                        [args.tbgw_python, "-m", "thingsboard_gateway.tb_gateway"],
                        cwd=home,
                        env={**os.environ, "TB_GW_CONFIG_DIR": str(conf)},
                        stdout=(home / "out.log").open("wb"),
                        stderr=subprocess.STDOUT,
                    )
                    name = f"thingsboard-gateway ({mode.replace('_', '-')})"
                    try:
                        results.append(await measure(name, gw, tb, args.warmup_s, args.measure_s))
                    except RuntimeError:
                        print((home / "out.log").read_text()[-3000:], file=sys.stderr)
                        raise
                    finally:
                        gw.terminate()
                        try:
                            gw.wait(timeout=30)
                        except subprocess.TimeoutExpired:
                            gw.kill()
                        print((home / "out.log").read_text()[-1500:], file=sys.stderr)
                    task.cancel()
        finally:
            for sim in sims:
                sim.terminate()
                sim.wait(timeout=10)
    return results


def report(results: list[Result], args: argparse.Namespace) -> str:
    target = args.devices * len(POINTS)
    lines = [
        f"Load: {args.devices} devices x {len(POINTS)} points every 1 s = {target} points/s offered; "
        f"warm-up {args.warmup_s:.0f} s, measured over {args.measure_s:.0f} s; machine: {os.cpu_count()} cores.",
        "",
        "| agent | points/s delivered | CPU-s per 1,000 points | points per CPU-second | CPU cores used "
        "| peak RSS (MB) |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        per_1000 = f"{r.cpu_per_1000:.4f}" if r.points else "n/a (nothing delivered)"
        lines.append(
            f"| {r.name} | {r.points_per_s:,.0f} | {per_1000} | {r.points_per_cpu_s:,.0f} | "
            f"{r.cpu_s / args.measure_s:.2f} | {r.peak_rss_mb:.0f} |"
        )
    for peer in results[1:]:
        if peer.points_per_cpu_s:
            lines += ["", f"Ratio (points per CPU-second, citysense / {peer.name}): "
                          f"{results[0].points_per_cpu_s / peer.points_per_cpu_s:.1f}x"]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--warmup-s", type=float, default=15)
    parser.add_argument("--measure-s", type=float, default=60)
    parser.add_argument("--tbgw-python", default="/tmp/tbgw-venv/bin/python")
    parser.add_argument("--tbgw-modes", default="block,per_point", help="thingsboard-gateway configurations to run")
    args = parser.parse_args()
    print(report(asyncio.run(run(args)), args))


if __name__ == "__main__":
    main()
