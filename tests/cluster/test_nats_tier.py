"""The broker tier: MQTT publishes on any node land, partitioned by node id, in a replicated stream."""

from __future__ import annotations

import asyncio

import aiomqtt
import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import StreamConfig

from hub.cluster.partitions import STREAM
from tests.cluster.conftest import PARTITIONS
from tests.harness.nats import NatsCluster

NODES = [f"GZ-P-{i:04d}" for i in range(40)]


async def _stream(cluster: NatsCluster) -> tuple[NatsClient, JetStreamContext]:
    nc = await nats.connect(servers=cluster.urls, connect_timeout=5)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=STREAM, subjects=["ct.>"], num_replicas=3))
    return nc, js


async def _publish(host: str, port: int, client_id: str, nodes: list[str], tag: str) -> None:
    async with aiomqtt.Client(host, port, identifier=client_id, timeout=10) as client:
        for node in nodes:
            await client.publish(f"citysense/v1/{node}/telemetry", f"{node}:{tag}".encode(), qos=1)


def test_each_node_lands_in_the_partition_the_hub_computes(nats_cluster: NatsCluster) -> None:
    async def main() -> dict[str, set[int]]:
        nc, js = await _stream(nats_cluster)
        try:
            host, port = nats_cluster.mqtt_endpoints[1]
            await _publish(host, port, "agent-test", NODES, "a")
            seen: dict[str, set[int]] = {}
            for p in range(PARTITIONS.count):
                sub = await js.pull_subscribe(PARTITIONS.subject(p), durable=f"w{p}")
                try:
                    msgs = await sub.fetch(len(NODES), timeout=1)
                except nats.errors.TimeoutError:
                    msgs = []
                for m in msgs:
                    seen.setdefault(PARTITIONS.node_of(m.subject), set()).add(p)
                    await m.ack()
            return seen
        finally:
            await nc.close()

    seen = asyncio.run(main())
    assert set(seen) == set(NODES)
    assert {n: ps for n, ps in seen.items()} == {n: {PARTITIONS.partition_of(n)} for n in NODES}
    assert len({PARTITIONS.partition_of(n) for n in NODES}) == PARTITIONS.count  # 40 ids spread over all 8


def test_stream_keeps_every_stored_message_when_its_leader_is_killed(nats_cluster: NatsCluster) -> None:
    async def main() -> tuple[str, str, int]:
        nc, js = await _stream(nats_cluster)
        try:
            host, port = nats_cluster.mqtt_endpoints[0]
            await _publish(host, port, "agent-one", NODES, "before")
            info = await js.stream_info(STREAM)
            assert info.state.messages == len(NODES)
            assert info.cluster is not None
            leader = str(info.cluster.leader)
        finally:
            await nc.close()
        nats_cluster.node(leader).kill()
        survivor = next(n for n in nats_cluster.nodes if n.running)
        nc = await nats.connect(servers=[n.url for n in nats_cluster.nodes if n.running], connect_timeout=5)
        try:
            js = nc.jetstream()
            for _ in range(100):  # the survivors elect a new stream leader (RAFT), bounded wait
                try:
                    info = await js.stream_info(STREAM)
                    if info.cluster is not None and info.cluster.leader not in (None, leader):
                        break
                except (nats.errors.TimeoutError, nats.js.errors.APIError):
                    pass
                await asyncio.sleep(0.2)
            await _publish(survivor.host, survivor.mqtt_port, "agent-two", NODES, "after")
            info = await js.stream_info(STREAM)
            assert info.cluster is not None and info.cluster.leader is not None
            return str(leader), info.cluster.leader, info.state.messages
        finally:
            await nc.close()

    old, new, count = asyncio.run(main())
    assert new != old
    assert count == 2 * len(NODES)
