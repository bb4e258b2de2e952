"""The worker's own pull fetch against the real JetStream cluster: in order, nothing lost, unacked ones come back."""

from __future__ import annotations

import asyncio

import nats
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StreamConfig

from hub.cluster.pull import Puller, ensure_consumer, release
from tests.harness.nats import NatsCluster

STREAM = "PULLTEST"


def _config(ack_wait_s: float = 30.0) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name="part-0",
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait_s,
        deliver_policy=DeliverPolicy.ALL,
        filter_subject="pt.0.>",
    )


async def _stream(nc: NatsClient, count: int) -> None:
    js = nc.jetstream()
    config = StreamConfig(name=STREAM, subjects=["pt.>"], retention=RetentionPolicy.WORK_QUEUE, num_replicas=3)
    for _ in range(40):  # a fresh cluster elects its JetStream leader first
        try:
            await js.add_stream(config)
            break
        except (TimeoutError, nats.errors.Error):
            await asyncio.sleep(0.5)
    for i in range(count):
        await js.publish(f"pt.0.n{i % 3}", str(i).encode())


async def test_fetches_return_the_stream_in_order_whatever_is_there(nats_cluster: NatsCluster) -> None:
    nc = await nats.connect(servers=nats_cluster.urls)
    try:
        await _stream(nc, 25)
        js = nc.jetstream()
        await ensure_consumer(js, STREAM, _config())
        await ensure_consumer(js, STREAM, _config())  # an existing consumer is kept
        puller = Puller(nc, STREAM, "part-0")
        await puller.open()
        first = await puller.fetch(10, 0.5)
        rest = await puller.fetch(100, 0.5)  # fewer there than asked: the no-wait request ends with a status
        assert [m.data for m in first + rest] == [str(i).encode() for i in range(25)]
        for m in first + rest:
            await m.ack()
        try:
            await puller.fetch(10, 0.3)
            raise AssertionError("an empty consumer returned messages")
        except TimeoutError:
            pass
        waiting = asyncio.create_task(puller.fetch(10, 5.0))  # a lingering request gets what is published meanwhile
        await asyncio.sleep(0.2)
        await js.publish("pt.0.n9", b"late")
        assert [m.data for m in await waiting] == [b"late"]
        await puller.close()
    finally:
        await nc.close()


async def test_what_was_fetched_and_not_acknowledged_is_delivered_again(nats_cluster: NatsCluster) -> None:
    nc = await nats.connect(servers=nats_cluster.urls)
    try:
        await _stream(nc, 6)
        await ensure_consumer(nc.jetstream(), STREAM, _config(ack_wait_s=1.0))
        dying = Puller(nc, STREAM, "part-0")
        await dying.open()
        got = await dying.fetch(6, 0.5)
        for m in got[:2]:
            await m.ack()
        await dying.close()  # a worker that lost its partition: four messages fetched, never acknowledged
        heir = Puller(nc, STREAM, "part-0")
        await heir.open()
        again: dict[bytes, int] = {}  # payload -> delivery count when first seen here
        while len(again) < 4:  # after the consumer's ack wait
            for m in await heir.fetch(10, 3.0):
                await m.ack()
                again.setdefault(m.data, m.metadata.num_delivered)
        assert list(again) == [b"2", b"3", b"4", b"5"]
        assert all(n >= 2 for n in again.values())
        await heir.close()
    finally:
        await nc.close()


async def test_what_a_leaving_worker_releases_goes_to_the_next_at_once_not_after_the_ack_wait(
    nats_cluster: NatsCluster,
) -> None:
    nc = await nats.connect(servers=nats_cluster.urls)
    try:
        await _stream(nc, 6)
        await ensure_consumer(nc.jetstream(), STREAM, _config(ack_wait_s=120.0))
        leaving = Puller(nc, STREAM, "part-0")
        await leaving.open()
        got = await leaving.fetch(6, 0.5)
        for m in got[:2]:
            await m.ack()
        await release(got[2:])  # what a worker that lost the partition does with the group it will not handle
        await leaving.close()
        heir = Puller(nc, STREAM, "part-0")
        await heir.open()
        again = await heir.fetch(10, 5.0)  # well inside the two minutes of ack wait
        assert [m.data for m in again] == [b"2", b"3", b"4", b"5"]
        await heir.close()
    finally:
        await nc.close()
