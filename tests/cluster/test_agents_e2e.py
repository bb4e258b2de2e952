"""Real agents and a real hub worker on the NATS tier: the stream leader and the agent's broker node die.

A NATS MQTT PUBACK does not mean the message reached the stream, so only the
end-to-end acknowledgment keeps this lossless: the agent holds every batch
until the worker that stored it says so, fails over to another member, and
re-sends what was never acknowledged; the worker's dedupe drops the doubles.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from edge_agent.app import Agent
from edge_agent.config import load_agent_config
from hub.cluster.partitions import STREAM
from hub.cluster.settings import ClusterSettings
from hub.config import HubSettings
from hub.runtime import running_hub
from tests.agent.support import agent_config, counter_server, hub_has_all, hub_readings, recording, wait_for, write_site
from tests.cluster.conftest import PARTITIONS
from tests.harness.jetstream import stream_leader
from tests.harness.nats import NatsCluster
from tests.harness.tasks import running


async def test_an_agent_loses_nothing_when_the_stream_leader_it_is_connected_to_dies(
    tmp_path: Path, nats_cluster: NatsCluster
) -> None:
    profiles, kinds, fleet = write_site(tmp_path)
    async with counter_server() as modbus:
        settings = HubSettings(
            data_dir=tmp_path / "hub",
            api_port=0,
            profiles_dir=profiles,
            node_kinds_dir=kinds,
            fleet_file=fleet,
            mqtt_url=f"mqtt://127.0.0.1:{nats_cluster.nodes[0].mqtt_port}",  # commands and configuration
            cluster=ClusterSettings(
                nats_urls=nats_cluster.urls,
                worker="w1",
                partitions=PARTITIONS.count,
                lease_ttl_s=3,
                lease_renew_s=0.5,
                ack_wait_s=3,
            ),
        )
        async with running_hub(settings) as hub:
            leader = nats_cluster.node(await stream_leader(nats_cluster.urls, STREAM))
            others = [n for n in nats_cluster.nodes if n is not leader]
            path = agent_config(tmp_path, f"mqtt://127.0.0.1:{leader.mqtt_port}", modbus.port, ack_timeout_s=2)
            cfg = yaml.safe_load(path.read_text())
            cfg["hub"]["failover_urls"] = [f"mqtt://127.0.0.1:{n.mqtt_port}" for n in others]
            path.write_text(yaml.safe_dump(cfg))
            config, agent_profiles = load_agent_config(path)
            agent = Agent(config, agent_profiles, tmp_path / "state")
            rec = recording(agent)
            async with running(agent.run(), "test:agent"):

                async def acked(n: int) -> bool:
                    return agent.buffer.acked >= n

                await wait_for(lambda: acked(3), 30, "the worker's first acknowledgments")
                leader.kill()  # the stream leader and the agent's broker node at once

                await asyncio.sleep(3)  # readings keep coming while the cluster elects and the agent fails over
                await wait_for(
                    lambda: hub_has_all(hub, rec), 60, "every reading the agent recorded, stored by the worker"
                )
                recorded = list(rec.seen)  # all stored by now; the agent keeps polling meanwhile
                held = agent.buffer.unacked()
                high = held[-1].seq if held else agent.buffer.acked
                await wait_for(lambda: acked(high), 30, "acknowledgment of everything held after the kill")
            for device in ("c1", "c2"):
                sent = [(r.ts_ms, r.value) for r in recorded if r.device == device and r.metric == "count"]
                stored = [(r.ts_ms, r.value) for r in await hub_readings(hub, device)]
                assert stored[: len(sent)] == sent  # every reading the agent recorded, once, in order
                assert len({ts for ts, _ in stored}) == len(stored)
