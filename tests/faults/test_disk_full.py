"""A full disk under the hub's data (SQLite store, spool) or the agent's buffer: nothing stops, nothing is lost.

Before, a hub spool that could not write was taken for a bug in the batch:
after three tries the batch was dead-lettered and acknowledged, and the agent
forgot readings the hub had never stored. An agent whose buffer could not
write ended: the poller's error stopped the whole agent.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from edge_agent.app import Agent
from edge_agent.config import load_agent_config
from hub.runtime import RunningHub
from tests.agent.support import (
    agent_config,
    assert_stored_once,
    counter_server,
    hub_has_all,
    hub_on,
    hub_readings,
    recorded_counts,
    recording,
    wait_for,
)
from tests.faults.conftest import fill, small_disk
from tests.harness.mosquitto import MosquittoServer
from tests.harness.tasks import running

FULL_S = 8
DEVICES = ("c1", "c2")


async def test_a_full_data_disk_holds_readings_back_until_there_is_room(
    tmp_path: Path, mosquitto_fresh: MosquittoServer
) -> None:
    url = mosquitto_fresh.url
    registry = f"sqlite:///{tmp_path / 'registry.db'}"  # the registry elsewhere: only the data disk fills up
    with small_disk(tmp_path / "hub") as disk:
        async with counter_server() as modbus, hub_on(tmp_path, url, registry_url=registry) as hub:
            config, profiles = load_agent_config(agent_config(tmp_path, url, modbus.port))
            agent = Agent(config, profiles, tmp_path / "state")
            rec = recording(agent)
            async with running(agent.run(), "test:agent"):
                await wait_for(lambda: _stored(hub, 2), 15, "first readings at the hub")

                filler = fill(disk)
                await asyncio.sleep(FULL_S)
                assert not hub.services.stats.dead_letters  # nothing valid refused for want of space
                assert agent.buffer.unacked_count() > 0  # the agent still holds what the hub could not keep
                filler.unlink()

                await wait_for(lambda: hub_has_all(hub, rec), 30, "every recorded reading at the hub")
                sent = recorded_counts(rec, DEVICES)
                assert agent.buffer.dropped == 0

            await assert_stored_once(hub, sent)


async def test_a_full_agent_disk_stops_no_poller_and_keeps_what_it_polled(
    tmp_path: Path, mosquitto_fresh: MosquittoServer
) -> None:
    url = mosquitto_fresh.url
    with small_disk(tmp_path / "state", "2m") as disk:
        async with counter_server() as modbus, hub_on(tmp_path, url) as hub:
            config, profiles = load_agent_config(agent_config(tmp_path, url, modbus.port))
            agent = Agent(config, profiles, disk)
            rec = recording(agent)
            async with running(agent.run(), "test:agent") as task:
                await wait_for(lambda: _stored(hub, 2), 15, "first readings at the hub")

                filler = fill(disk)
                before, last_id = len(rec.seen), agent.buffer.last_id
                await asyncio.sleep(FULL_S)
                assert not task.done()  # it ended here: the buffer's "database or disk is full" stopped the poller
                polled = len(rec.seen) - before
                assert polled > 0  # polling went on
                filler.unlink()

                async def kept() -> bool:  # every reading polled meanwhile is in the buffer once there is room
                    return agent.buffer.last_id - last_id >= polled

                await wait_for(kept, 15, "the readings polled on the full disk in the buffer")
                assert agent.uplink.writes.dropped == 0


async def _stored(hub: RunningHub, n: int) -> bool:
    return len(await hub_readings(hub, "c1")) >= n
