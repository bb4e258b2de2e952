"""10,000 readings ready at once (after an outage): the agent splits them under the hub's 1 MiB limit."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from citysense.contract import MAX_PAYLOAD_BYTES, Reading
from citysense.runner import STOP_GRACE_S, cancel_and_wait
from edge_agent.buffer import DurableBuffer
from edge_agent.config import load_agent_config
from edge_agent.uplink import Uplink
from tests.agent.support import agent_config, hub_on, hub_readings, wait_for
from tests.harness import MosquittoServer


async def test_a_full_batch_is_split_by_bytes_and_every_reading_stored(
    tmp_path: Path, mosquitto_fresh: MosquittoServer
) -> None:
    now = time.time_ns() // 1_000_000
    readings = [
        Reading(device="c1", metric="level", value=1234.567891234 + i, unit="m", ts_ms=now - 50_000 + i)
        for i in range(10_000)
    ]
    assert sum(len(r.model_dump_json()) + 1 for r in readings) > MAX_PAYLOAD_BYTES  # one batch would be refused
    async with hub_on(tmp_path, mosquitto_fresh.url) as hub:
        path = agent_config(tmp_path, mosquitto_fresh.url, 1, batch_max_readings=10_000, batch_max_wait_s=5)
        config, _ = load_agent_config(path)
        buffer = DurableBuffer(tmp_path / "b.sqlite", "N1")
        uplink = Uplink(config, buffer)
        await uplink.put(readings)  # all in the buffer before the uplink forms anything
        async with asyncio.TaskGroup() as tg:
            run = tg.create_task(uplink.run(), name="test:uplink")

            async def stored_all() -> bool:
                return len(await hub_readings(hub, "c1", "level")) == len(readings)

            await wait_for(stored_all, 30, "all 10,000 readings at the hub")

            async def acknowledged() -> bool:
                return buffer.depth() == 0

            await wait_for(acknowledged, 10, "the hub's acknowledgment of every batch")
            await cancel_and_wait([run], grace_s=STOP_GRACE_S)
        assert uplink.published_batches >= 2  # split, not refused
        assert hub.services.registry.list_dead_letters(limit=10) == []
