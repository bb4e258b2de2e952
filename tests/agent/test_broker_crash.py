"""A broker SIGKILLed while it holds the hub's queue loses what it PUBACKed; the agents' buffers do not.

Mosquitto writes its queues to disk only every ``autosave_interval`` or at a
clean stop, so a crash loses messages it had acknowledged to the agents. The
agent keeps every batch until the hub acknowledges it durable, re-sends on
reconnect, and the hub's dedupe drops what it already had.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from citysense.runner import STOP_GRACE_S, cancel_and_wait
from edge_agent.app import Agent
from edge_agent.config import load_agent_config
from tests.agent.support import agent_config, counter_server, hub_has_all, hub_on, hub_readings, recording, wait_for
from tests.harness import MosquittoServer


async def test_broker_crash_while_the_hub_is_away_loses_nothing(
    tmp_path: Path, mosquitto_fresh: MosquittoServer
) -> None:
    broker = mosquitto_fresh
    async with counter_server() as modbus:
        async with hub_on(tmp_path, broker.url):
            pass  # the hub's persistent session now exists: the broker queues for it while it is away
        config, profiles = load_agent_config(agent_config(tmp_path, broker.url, modbus.port))
        agent = Agent(config, profiles, tmp_path / "state")
        rec = recording(agent)
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(agent.run(), name="test:agent")

            async def published() -> bool:
                return agent.uplink.published_batches >= 4

            await wait_for(published, 20, "batches PUBACKed by the broker, queued for the absent hub")
            held = agent.buffer.unacked()
            assert len(held) >= 4  # PUBACKed but not acknowledged by the hub: still kept
            broker.kill()  # the broker's queue was in memory only
            await asyncio.sleep(2)
            broker.start()
            async with hub_on(tmp_path, broker.url) as hub:
                await wait_for(lambda: hub_has_all(hub, rec), 30, "every reading the agent produced at the hub")
                recorded = list(rec.seen)  # all stored by now; the agent keeps polling meanwhile

                async def acknowledged() -> bool:
                    return agent.buffer.acked >= held[-1].seq

                await wait_for(acknowledged, 30, "the hub's acknowledgment of the batches the broker lost")
                await cancel_and_wait([task], grace_s=STOP_GRACE_S)
                for device in ("c1", "c2"):
                    sent = [(r.ts_ms, r.value) for r in recorded if r.device == device and r.metric == "count"]
                    stored = [(r.ts_ms, r.value) for r in await hub_readings(hub, device)]
                    assert stored[: len(sent)] == sent  # every reading the agent recorded, once, in order
                    assert len({ts for ts, _ in stored}) == len(stored)
