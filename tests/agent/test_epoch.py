"""A wiped state directory (a replaced edge box, a reflashed card): the new epoch's readings are stored at once."""

from __future__ import annotations

import shutil
from pathlib import Path

from edge_agent.app import Agent
from edge_agent.config import load_agent_config
from tests.agent.support import Recorder, agent_config, counter_server, hub_on, hub_readings, recording, wait_for
from tests.harness import MosquittoServer
from tests.harness.tasks import running


async def test_new_epoch_after_a_wiped_state_directory_is_stored_within_seconds(
    tmp_path: Path, mosquitto_fresh: MosquittoServer
) -> None:
    state = tmp_path / "state"
    async with counter_server() as modbus, hub_on(tmp_path, mosquitto_fresh.url) as hub:
        config, profiles = load_agent_config(agent_config(tmp_path, mosquitto_fresh.url, modbus.port))
        epochs = []
        for round_ in range(2):
            agent = Agent(config, profiles, state)
            epochs.append(agent.buffer.epoch)
            rec = recording(agent)
            async with running(agent.run(), f"test:agent-{round_}"):

                async def stored_all(rec: Recorder = rec) -> bool:
                    mine = {r.ts_ms for r in rec.seen if r.device == "c1" and r.metric == "count"}
                    return len(mine) >= 3 and mine <= {r.ts_ms for r in await hub_readings(hub, "c1")}

                # Seq restarts at 0 in the new epoch: the hub takes it at once, not as duplicates of the old one.
                await wait_for(stored_all, 10, f"readings of agent state {round_} at the hub")
            shutil.rmtree(state)  # the edge box is replaced: nothing of the old state survives
        assert epochs[0] != epochs[1]
        assert hub.services.registry.get_node("N1").epoch == epochs[1]  # the node shows its new agent state
