"""Broker cut while polling at 1 Hz: the hub ends up with every reading, in order, once.

20 s in the suite: the agent's reconnect back-off (at most 2 s here) comes round many times over. The issue asked
for 60 s: CITYSENSE_BROKER_OUTAGE_S=60 runs that.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from edge_agent.app import Agent
from edge_agent.config import load_agent_config
from tests.agent.support import Recorder, agent_config, counter_server, hub_on, hub_readings, recording, wait_for
from tests.harness import MosquittoServer
from tests.harness.tasks import running

OUTAGE_S = float(os.environ.get("CITYSENSE_BROKER_OUTAGE_S", "20"))


async def test_a_broker_outage_loses_nothing(tmp_path: Path, mosquitto_fresh: MosquittoServer) -> None:
    async with counter_server() as modbus, hub_on(tmp_path, mosquitto_fresh.url) as hub:
        config, profiles = load_agent_config(agent_config(tmp_path, mosquitto_fresh.url, modbus.port))
        agent = Agent(config, profiles, tmp_path / "state")
        rec = recording(agent)
        async with running(agent.run(), "test:agent"):
            await wait_for(lambda: _count(hub, "c1", 3), 20, "first readings at the hub")

            mosquitto_fresh.stop()
            before = len(rec.seen)
            await asyncio.sleep(OUTAGE_S)
            during = [r for r in rec.seen[before:] if r.device == "c1" and r.metric == "count"]
            assert len(during) >= OUTAGE_S - 5  # the agent kept polling at 1 Hz while the link was down
            assert agent.buffer.depth() > 0
            mosquitto_fresh.start()

            await wait_for(lambda: _has_all(hub, rec), 60, "every buffered reading at the hub")
            assert agent.buffer.dropped == 0

        for device in ("c1", "c2"):
            sent = [(r.ts_ms, r.value) for r in rec.seen if r.device == device and r.metric == "count"]
            stored = [(r.ts_ms, r.value) for r in await hub_readings(hub, device)]
            assert stored[: len(sent)] == sent  # every reading, in order, none twice
            values = [v for _, v in stored]
            assert values == sorted(values)  # the counter only goes up: nothing is out of order


async def _count(hub: object, device: str, n: int) -> bool:
    return len(await hub_readings(hub, device)) >= n  # type: ignore[arg-type]


async def _has_all(hub: object, rec: Recorder) -> bool:
    for device in ("c1", "c2"):
        sent = {r.ts_ms for r in rec.seen if r.device == device and r.metric == "count"}
        stored = {r.ts_ms for r in await hub_readings(hub, device)}  # type: ignore[arg-type]
        if not sent <= stored:
            return False
    return True
