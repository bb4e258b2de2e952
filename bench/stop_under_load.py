"""Stops under load: SIGTERM (or SIGINT) to a hub at full ingest and to an agent polling many devices.

Run from the repository root (it starts its own Mosquitto, InfluxDB and device simulators):

    python -m bench.stop_under_load [--runs 10] [--devices 500] [--interval-s 0.25] [--messages 20000]

Hub: ``--messages`` telemetry messages (10 readings each) are queued for the
hub's persistent session; the hub (``python -m hub.cli run``, InfluxDB store) is
started, stopped with SIGTERM once it is ingesting, started again, and so on;
after the last stop one more hub stores the rest and the script checks that
every reading was stored exactly once. Agent: ``--devices`` pymodbus servers
(``bench/agent_sim.py``, 30 points each) polled every ``--interval-s``, the agent
started, stopped with SIGTERM once its readings reach the broker, ``--runs``
times. Each stop: exit status and seconds from the signal to the exit. Results
go to stdout as Markdown (copied into docs/edge-agent.md and docs/hub-ingest.md).
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
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.agent_poll import citysense_config  # noqa: E402
from bench.hub_ingest import PER_MSG, message, publish_lines, write_hub_config  # noqa: E402
from hub.store.influx_v1 import InfluxV1Store  # noqa: E402
from tests.harness import InfluxServer, MosquittoServer, free_port  # noqa: E402

STOP_LIMIT_S = 10.0


@dataclass
class Stop:
    """One stop: the process's exit status and the seconds from the signal to its exit."""

    code: int | None
    seconds: float

    @property
    def clean(self) -> bool:
        return self.code == 0 and self.seconds <= STOP_LIMIT_S


def stop(proc: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> Stop:
    """Send ``sig`` and wait up to 30 s; a process still alive then is killed and counted as stuck."""
    started = time.perf_counter()
    proc.send_signal(sig)
    try:
        code: int | None = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        code = None
    return Stop(code, time.perf_counter() - started)


def start(args: list[str], log: Path, *, sigint_ignored: bool = False) -> subprocess.Popen[bytes]:
    """Start ``python args``; with ``sigint_ignored`` through a shell that ignores SIGINT first, as a
    non-interactive shell's ``&`` does (an ignored signal stays ignored across exec, POSIX.1-2017 exec())."""
    cmd = [sys.executable, *args]
    if sigint_ignored:
        cmd = ["/bin/sh", "-c", 'trap "" INT; exec "$@"', "sh", *cmd]
    with log.open("ab") as out:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


# ---- hub ----


async def queue_for_hub(broker: MosquittoServer, n: int, t0: int) -> None:
    """Queue ``n`` telemetry messages in the hub's persistent session (it subscribes once, then leaves)."""
    async with aiomqtt.Client(broker.host, broker.port, identifier="stop-hub", clean_session=False) as c:
        await c.subscribe("citysense/v1/+/telemetry", qos=1)
        await c.subscribe("citysense/v1/+/status", qos=1)
    await asyncio.to_thread(publish_lines, broker, [message(s, t0) for s in range(n)])


async def hub_ingesting(port: int, at_least: int = 200, timeout_s: float = 60) -> None:
    """Wait until the /metrics of the hub on API ``port`` counts ``at_least`` messages received."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
        async with asyncio.timeout(timeout_s):
            while True:
                try:
                    body = (await client.get("/metrics")).text
                except httpx.HTTPError:
                    body = ""
                for line in body.splitlines():
                    if line.startswith("citysense_messages_total ") and float(line.split()[1]) >= at_least:
                        return
                await asyncio.sleep(0.05)


async def stored(influx: InfluxServer, database: str, t0: int) -> int:
    """Readings of the queued messages visible in InfluxDB."""
    store = InfluxV1Store(influx.url, database)
    try:
        (res,) = await store._query([f'SELECT count("level") FROM "test_gauge" WHERE time >= {t0}ms'])
    finally:
        await store.close()
    series = res.get("series") or []
    return int(series[0]["values"][0][1]) if series else 0


async def hub_stops(
    broker: MosquittoServer, influx: InfluxServer, work: Path, runs: int, messages: int, sig: signal.Signals
) -> tuple[list[Stop], int, int]:
    """Stop a hub at full ingest ``runs`` times; return the stops, readings expected and readings stored."""
    database = f"stop_{time.time_ns()}"
    port = free_port()
    config = write_hub_config(work, broker, {"url": influx.url, "database": database}, "stop-hub", port)
    t0 = time.time_ns() // 1_000_000 - 3_000_000  # inside the hub's past-timestamp window
    await queue_for_hub(broker, messages, t0)
    cmd = ["-m", "hub.cli", "run", "--config", str(config), "--log-level", "WARNING"]
    stops = []
    for _ in range(runs):
        hub = start(cmd, work / "hub.log", sigint_ignored=sig is signal.SIGINT)
        try:
            await hub_ingesting(port)
        finally:
            stops.append(await asyncio.to_thread(stop, hub, sig))
    hub = start(cmd, work / "hub.log")  # the last one stores what is left
    try:
        async with asyncio.timeout(120):
            while await stored(influx, database, t0) < messages * PER_MSG:  # noqa: ASYNC110
                await asyncio.sleep(0.5)
        await asyncio.sleep(1)  # a duplicate would land after the last reading
        final = await stored(influx, database, t0)
    finally:
        stops.append(await asyncio.to_thread(stop, hub))
    return stops, messages * PER_MSG, final


# ---- agent ----


async def agent_publishing(broker: MosquittoServer, readings: int, timeout_s: float = 60) -> None:
    """Wait until ``readings`` readings of node BENCH have reached the broker."""
    seen = 0
    async with asyncio.timeout(timeout_s), aiomqtt.Client(broker.host, broker.port) as c:
        await c.subscribe("citysense/v1/BENCH/telemetry", qos=0)
        async for msg in c.messages:
            assert isinstance(msg.payload, bytes)
            seen += len(json.loads(msg.payload)["readings"])
            if seen >= readings:
                return


def start_simulators(ports: list[int], work: Path) -> list[subprocess.Popen[bytes]]:
    """Two simulator processes (bench/agent_sim.py) serving one device per port."""
    half = len(ports) // 2
    chunks = [ports[:half], ports[half:]] if half else [ports]
    return [start([str(ROOT / "bench" / "agent_sim.py"), ",".join(map(str, c))], work / "sim.log") for c in chunks]


def free_ports(n: int) -> list[int]:
    unique: set[int] = set()
    while len(unique) < n:  # free_port() may hand out a port twice across calls
        unique.add(free_port())
    return sorted(unique)


async def agent_stops(
    broker: MosquittoServer, work: Path, runs: int, devices: int, interval_s: float, sig: signal.Signals
) -> list[Stop]:
    """Stop an agent polling ``devices`` simulated devices ``runs`` times."""
    ports = free_ports(devices)
    sims = start_simulators(ports, work)
    try:
        await asyncio.sleep(2 + devices / 200)
        if any(s.poll() is not None for s in sims):
            raise RuntimeError(f"a device simulator failed to start; see {work / 'sim.log'}")
        config = citysense_config(work, broker, ports)
        cfg = yaml.safe_load(config.read_text())
        for d in cfg["devices"]:
            d["poll_interval_s"] = interval_s
        config.write_text(json.dumps(cfg))
        cmd = ["-m", "edge_agent.cli", "run", "--config", str(config), "--state-dir", str(work / "state"),
               "--log-level", "WARNING"]  # fmt: skip
        stops = []
        for _ in range(runs):
            agent = start(cmd, work / "agent.log", sigint_ignored=sig is signal.SIGINT)
            try:
                await agent_publishing(broker, devices * 30 * 2)  # every device read about twice
            finally:
                stops.append(await asyncio.to_thread(stop, agent, sig))
        return stops
    finally:
        for s in sims:
            s.terminate()
            s.wait(10)


def table(title: str, stops: list[Stop]) -> str:
    worst = max(s.seconds for s in stops)
    clean = sum(s.clean for s in stops)
    rows = " ".join(f"{s.seconds:.1f}s/{s.code}" for s in stops)
    return f"| {title} | {clean} of {len(stops)} | {worst:.1f} | {rows} |"


async def run(args: argparse.Namespace) -> str:
    lines = ["| process | clean stops (exit 0 within 10 s) | slowest (s) | each stop (seconds/exit status) |",
             "|---|---|---|---|"]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-stop-") as tmp, MosquittoServer() as broker, InfluxServer() as ix:
        work = Path(tmp)
        (work / "hub").mkdir()
        stops, expected, final = await hub_stops(broker, ix, work / "hub", args.runs, args.messages, signal.SIGTERM)
        lines.append(table(f"hub, SIGTERM at full ingest ({args.messages} queued messages)", stops[:-1]))
        lines.append(f"| (then: {final} of {expected} readings stored after the last start) | | | |")
        (work / "agent").mkdir()
        a_stops = await agent_stops(broker, work / "agent", args.runs, args.devices, args.interval_s, signal.SIGTERM)
        lines.append(table(f"agent, SIGTERM, {args.devices} devices every {args.interval_s} s", a_stops))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--interval-s", type=float, default=0.25)
    parser.add_argument("--messages", type=int, default=20_000)
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}; stop limit {STOP_LIMIT_S} s\n")
    print(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
