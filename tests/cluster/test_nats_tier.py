"""The broker tier: MQTT publishes on any node land, partitioned by node id, in a replicated stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import aiomqtt
import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import StreamConfig, StreamInfo

from hub.cluster.partitions import STREAM, SUBJECT_ROOT
from tests.cluster.conftest import PARTITIONS
from tests.harness.nats import NatsCluster

NODES = [f"GZ-P-{i:04d}" for i in range(40)]


async def _stream(cluster: NatsCluster) -> tuple[NatsClient, JetStreamContext]:
    nc = await nats.connect(servers=cluster.urls, connect_timeout=5)
    js = nc.jetstream()
    for _ in range(50):  # a fresh cluster's JetStream may answer "unavailable" for a moment
        try:
            await js.add_stream(StreamConfig(name=STREAM, subjects=[f"{SUBJECT_ROOT}.>"], num_replicas=3))
        except nats.js.errors.ServiceUnavailableError:
            await asyncio.sleep(0.2)
        else:
            return nc, js
    raise AssertionError("JetStream never answered")


async def _publish(
    host: str, port: int, client_id: str, nodes: list[str], tag: str, channel: str = "telemetry"
) -> None:
    async with aiomqtt.Client(host, port, identifier=client_id, timeout=10) as client:
        for node in nodes:
            await client.publish(f"citysense/v1/{node}/{channel}", f"{node}:{tag}".encode(), qos=1)


def test_each_node_lands_in_the_partition_the_hub_computes(nats_cluster: NatsCluster) -> None:
    topics: list[str] = []

    async def main() -> dict[str, set[int]]:
        nc, js = await _stream(nats_cluster)
        try:
            host, port = nats_cluster.mqtt_endpoints[1]
            await _publish(host, port, "agent-test", NODES, "a")
            await _publish(host, port, "agent-test", NODES[:5], "birth", channel="status")
            await _until_stored(js, len(NODES) + 5)
            seen: dict[str, set[int]] = {}
            for p in range(PARTITIONS.count):
                sub = await _pull(js, PARTITIONS.subject(p), f"w{p}")
                msgs = []
                for _ in range(20):  # a partition holds a few messages; "unavailable" while its consumer settles
                    try:
                        msgs = await sub.fetch(2 * len(NODES), timeout=1)
                    except nats.js.errors.ServiceUnavailableError:
                        await asyncio.sleep(0.2)
                        continue
                    except TimeoutError:
                        pass
                    break
                for m in msgs:
                    seen.setdefault(PARTITIONS.node_of(m.subject), set()).add(p)
                    topics.append(PARTITIONS.topic_of(m.subject))
                    await m.ack()
            return seen
        finally:
            await nc.close()

    seen = asyncio.run(main())
    assert set(seen) == set(NODES)
    assert {n: ps for n, ps in seen.items()} == {n: {PARTITIONS.partition_of(n)} for n in NODES}
    assert len({PARTITIONS.partition_of(n) for n in NODES}) == PARTITIONS.count  # 40 ids spread over all 8
    assert sorted(topics) == sorted(
        [f"citysense/v1/{n}/telemetry" for n in NODES] + [f"citysense/v1/{n}/status" for n in NODES[:5]]
    )


async def _until_stored(js: JetStreamContext, n: int) -> StreamInfo:
    """A NATS MQTT PUBACK comes before the stream has the message: wait (bounded) until it holds ``n``."""
    for _ in range(100):
        with contextlib.suppress(TimeoutError, nats.errors.Error):
            info = await js.stream_info(STREAM)
            if info.state.messages >= n and info.cluster is not None and info.cluster.leader:
                return info
        await asyncio.sleep(0.1)
    raise AssertionError(f"the stream never held {n} messages")


async def _new_leader(js: JetStreamContext, old: str) -> str:
    for _ in range(150):  # the survivors elect a new stream leader (RAFT), bounded wait
        with contextlib.suppress(TimeoutError, nats.errors.Error):
            info = await js.stream_info(STREAM)
            if info.cluster is not None and info.cluster.leader not in (None, old):
                return str(info.cluster.leader)
        await asyncio.sleep(0.2)
    raise AssertionError("no new stream leader")


async def _publish_until_sent(host: str, port: int, nodes: list[str], tag: str) -> None:
    """Publish as an agent does: what times out is sent again on a new connection (bounded)."""
    for attempt in range(10):
        try:
            await _publish(host, port, f"agent-retry-{attempt}", nodes, tag)
        except aiomqtt.MqttError:
            await asyncio.sleep(0.5)
        else:
            return
    raise AssertionError("publishing after the failover never succeeded")


async def _pull(js: JetStreamContext, subject: str, durable: str | None = None) -> JetStreamContext.PullSubscription:
    for _ in range(50):  # a new stream's consumers can be "unavailable" until its RAFT group settles
        with contextlib.suppress(nats.js.errors.ServiceUnavailableError, TimeoutError):
            return await js.pull_subscribe(subject, durable=durable, stream=STREAM)
        await asyncio.sleep(0.2)
    raise AssertionError(f"no consumer on {subject}")


async def _payloads(js: JetStreamContext) -> list[bytes]:
    sub = await _pull(js, f"{SUBJECT_ROOT}.>")
    out: list[bytes] = []
    with contextlib.suppress(TimeoutError):
        while True:
            out += [m.data for m in await sub.fetch(500, timeout=2)]
    return out


def test_stream_keeps_every_stored_message_when_its_leader_is_killed(nats_cluster: NatsCluster) -> None:
    async def main() -> tuple[str, str, list[bytes]]:
        nc, js = await _stream(nats_cluster)
        try:
            host, port = nats_cluster.mqtt_endpoints[0]
            await _publish(host, port, "agent-one", NODES, "before")
            info = await _until_stored(js, len(NODES))
            assert info.cluster is not None
            leader = str(info.cluster.leader)
        finally:
            await nc.close()
        nats_cluster.node(leader).kill()
        survivor = next(n for n in nats_cluster.nodes if n.running)
        nc = await nats.connect(servers=[n.url for n in nats_cluster.nodes if n.running], connect_timeout=5)
        try:
            js = nc.jetstream()
            new = await _new_leader(js, leader)
            await _publish_until_sent(survivor.host, survivor.mqtt_port, NODES, "after")
            await _until_stored(js, 2 * len(NODES))
            return leader, new, await _payloads(js)
        finally:
            await nc.close()

    old, new, payloads = asyncio.run(main())
    assert new != old
    before = Counter(p for p in payloads if p.endswith(b":before"))
    assert before == Counter(f"{n}:before".encode() for n in NODES), "every message stored before the kill is kept"
    assert {p for p in payloads if p.endswith(b":after")} == {f"{n}:after".encode() for n in NODES}
