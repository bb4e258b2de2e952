"""The agent process killed with SIGKILL mid-stream and restarted: nothing that entered its buffer is lost."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.agent.support import agent_config, counter_server, hub_on, hub_readings, wait_for
from tests.harness import MosquittoServer

ROOT = Path(__file__).resolve().parents[2]


def start_agent(config: Path, state: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "edge_agent.cli", "run", "--config", str(config), "--state-dir", str(state)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def kill(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def buffered(state: Path) -> set[tuple[str, int]]:
    """(device, ts_ms) of every `count` reading left in the killed agent's durable buffer."""
    db = sqlite3.connect(state / "N1.buffer.sqlite")
    try:
        # One row per poll: its readings' wire objects, one per line (edge_agent/buffer_schema.py).
        rows = [json.loads(line) for (body,) in db.execute("SELECT body FROM readings") for line in body.splitlines()]
        for (payload,) in db.execute("SELECT payload FROM batches"):
            rows.extend(json.loads(payload)["readings"])
    finally:
        db.close()
    return {(r["device"], r["ts_ms"]) for r in rows if r["metric"] == "count"}


async def test_sigkill_and_restart_lose_nothing_from_the_buffer(
    tmp_path: Path, mosquitto_fresh: MosquittoServer
) -> None:
    state, log = tmp_path / "state", tmp_path / "agent.log"
    async with counter_server() as modbus, hub_on(tmp_path, mosquitto_fresh.url) as hub:
        config = agent_config(tmp_path, mosquitto_fresh.url, modbus.port)

        async def stored() -> set[tuple[str, int]]:
            return {(d, r.ts_ms) for d in ("c1", "c2") for r in await hub_readings(hub, d)}

        async def at_least(n: int) -> bool:
            return len(await stored()) >= n

        proc = start_agent(config, state, log)
        try:
            await wait_for(lambda: at_least(6), 30, "readings from the first agent process")
            kill(proc)  # 1: killed while connected, batches possibly in flight
            expected = buffered(state)

            proc = start_agent(config, state, log)
            await wait_for(lambda: at_least(len(expected) + 12), 30, "readings from the restarted agent")
            mosquitto_fresh.stop()  # 2: let a backlog build up, then kill the agent while offline
            await asyncio.sleep(5)
            kill(proc)
            backlog = buffered(state)
            assert len(backlog) >= 6  # about five seconds of two devices at 1 Hz waited in the buffer
            expected |= backlog
            mosquitto_fresh.start()

            proc = start_agent(config, state, log)

            async def has_all() -> bool:
                return expected <= await stored()

            await wait_for(has_all, 60, "every reading that was in the killed agent's buffer")
            proc.terminate()  # systemd's stop: SIGTERM ends the agent cleanly
            assert await asyncio.to_thread(proc.wait, 15) == 0
        finally:
            if proc.poll() is None:
                kill(proc)
        values = [r.value for r in await hub_readings(hub, "c1")]
        assert values == sorted(values) and len(values) == len(set(values))  # in order, none twice
