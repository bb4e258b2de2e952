"""Through a real broker to a real hub: what a node sends is stored, salvaged or dead-lettered, always acknowledged.

Each test publishes as node N1 would and reads N1's ack topic as its agent
does; the hub must stay up and keep storing what comes after.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from citysense.contract import MAX_PAYLOAD_BYTES, Channel, IngestAck, decode, topic
from hub.runtime import RunningHub
from tests.agent.support import hub_on, hub_readings, wait_for
from tests.harness import MosquittoServer

NOW = time.time_ns() // 1_000_000
EPOCH = "poison-test"
TELEMETRY, STATUS, ACK = (topic("N1", c) for c in (Channel.TELEMETRY, Channel.STATUS, Channel.ACK))


def batch(seq: int, readings: list[dict[str, object]], **head: object) -> bytes:
    body = {"v": 1, "node": "N1", "epoch": EPOCH, "seq": seq, "sent_ms": NOW, "readings": readings, **head}
    return json.dumps(body, allow_nan=True).encode()


def counts(n: int, start: int = 0) -> list[dict[str, object]]:
    return [
        {"device": "c1", "metric": "count", "value": i, "ts_ms": NOW - 100_000 + i} for i in range(start, start + n)
    ]


@pytest.fixture
async def hub(tmp_path: Path, mosquitto_fresh: MosquittoServer) -> AsyncIterator[RunningHub]:
    async with hub_on(tmp_path, mosquitto_fresh.url) as running:
        yield running


@pytest.fixture
async def node(mosquitto_fresh: MosquittoServer) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(mosquitto_fresh.host, mosquitto_fresh.port, identifier="poison-N1", timeout=10) as client:
        await client.subscribe(ACK, qos=1)
        yield client


async def acked_up_to(node: aiomqtt.Client, seq: int) -> IngestAck:
    """The hub's acknowledgment reaching ``seq`` (within 10 s)."""
    async with asyncio.timeout(10):
        async for m in node.messages:
            ack = decode(IngestAck, bytes(m.payload), "N1")  # type: ignore[arg-type]
            if ack.epoch == EPOCH and ack.seq >= seq:
                return ack
    raise AssertionError("ack stream ended")


def letters(hub: RunningHub, reason: str) -> list[str]:
    return [d.payload for d in hub.services.registry.list_dead_letters(limit=1000) if d.reason == reason]


async def test_one_nan_among_500_readings_stores_499_and_dead_letters_it(hub: RunningHub, node: aiomqtt.Client) -> None:
    readings = counts(500)
    readings[250]["value"] = float("nan")
    await node.publish(TELEMETRY, batch(0, readings), qos=1)
    assert (await acked_up_to(node, 0)).seq == 0
    stored = await hub_readings(hub, "c1")
    assert len(stored) == 499 and 250.0 not in {r.value for r in stored}
    [letter] = letters(hub, "bad_reading")
    assert json.loads(letter.replace("NaN", "null")) == {**readings[250], "value": None}  # its full content


async def test_malformed_batch_is_dead_lettered_whole_and_acknowledged(hub: RunningHub, node: aiomqtt.Client) -> None:
    payload = batch(0, counts(3), sent_ms="yesterday")  # a bad envelope: nothing in it can be trusted
    payload = payload[:-1] + b', "pad": "' + b"x" * 200_000 + b'"}'
    await node.publish(TELEMETRY, payload, qos=1)
    await acked_up_to(node, 0)
    assert [len(p) for p in letters(hub, "schema")] == [len(payload)]  # kept whole, far beyond the old 4 KB
    assert await hub_readings(hub, "c1") == []


async def test_oversize_message_is_dead_lettered_and_acknowledged_once(hub: RunningHub, node: aiomqtt.Client) -> None:
    oversize = batch(0, [{**counts(1)[0], "unit": "m" * MAX_PAYLOAD_BYTES}])
    assert len(oversize) > MAX_PAYLOAD_BYTES
    await node.publish(TELEMETRY, oversize, qos=1)
    await node.publish(TELEMETRY, batch(1, counts(2, 50_000)), qos=1)
    assert (await acked_up_to(node, 1)).seq == 1  # the refused batch counts as done: the agent may forget it
    assert len(letters(hub, "too_large")) == 1
    assert len(await hub_readings(hub, "c1")) == 2


async def test_integers_beyond_int64_are_dead_lettered_and_the_hub_stays_up(
    hub: RunningHub, node: aiomqtt.Client
) -> None:
    await node.publish(TELEMETRY, batch(2**63, counts(1)), qos=1)
    await node.publish(TELEMETRY, batch(2**64 + 5, counts(1)), qos=1)
    status = {"v": 1, "node": "N1", "state": "online", "session": "s", "ts_ms": NOW, "config_version": 2**63}
    await node.publish(STATUS, json.dumps(status).encode(), qos=1)
    far = {**status, "config_version": 1, "ts_ms": 32503680000000 - 1}  # the year 2999: would never go stale
    await node.publish(STATUS, json.dumps(far).encode(), qos=1)
    await node.publish(TELEMETRY, batch(0, counts(3)), qos=1)
    await acked_up_to(node, 0)
    assert len(await hub_readings(hub, "c1")) == 3  # the valid batch after them is stored
    assert len(letters(hub, "schema")) == 3 and len(letters(hub, "future_timestamp")) == 1
    assert (hub.services.registry.get_node("N1").last_seen_ms or 0) < NOW + 3_600_000


async def test_reused_seq_with_other_content_is_dead_lettered(hub: RunningHub, node: aiomqtt.Client) -> None:
    await node.publish(TELEMETRY, batch(0, counts(2)), qos=1)
    await acked_up_to(node, 0)
    await node.publish(TELEMETRY, batch(0, counts(2)), qos=1)  # a re-send: the same bytes, dropped quietly
    await node.publish(TELEMETRY, batch(0, counts(2, 10)), qos=1)  # a state restored from an old copy
    await node.publish(TELEMETRY, batch(1, counts(1, 20)), qos=1)
    await acked_up_to(node, 1)

    async def lettered() -> bool:
        return len(letters(hub, "seq_reused")) == 1

    await wait_for(lettered, 5, "the reused seq in the dead letters")
    assert [r.value for r in await hub_readings(hub, "c1")] == [0, 1, 20]
    assert hub.services.stats.duplicates == 1


async def test_a_message_that_makes_the_hub_raise_is_dead_lettered_and_its_group_kept(
    hub: RunningHub, node: aiomqtt.Client
) -> None:
    pipeline = hub.consumer.pipeline
    seen_many = pipeline.dedupe.seen_many

    async def buggy(keys: list[tuple[str, str, int]]) -> dict[tuple[str, str, int], int]:
        if any(seq == 1 for *_, seq in keys):  # a bug that some content meets
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return await seen_many(keys)

    pipeline.dedupe.seen_many = buggy  # type: ignore[assignment,method-assign]
    for seq in range(3):
        await node.publish(TELEMETRY, batch(seq, counts(1, seq)), qos=1)
    assert (await acked_up_to(node, 2)).seq == 2  # dead-lettered counts as done: never redelivered
    assert [r.value for r in await hub_readings(hub, "c1")] == [0, 2]
    assert len(letters(hub, "internal_error")) == 1
    await node.publish(TELEMETRY, batch(3, counts(1, 3)), qos=1)
    await acked_up_to(node, 3)  # the hub stays up and goes on storing


async def test_a_malformed_command_reply_is_dead_lettered_and_the_real_one_still_answers(
    hub: RunningHub, node: aiomqtt.Client
) -> None:
    from citysense.contract import Command, CommandReply, encode

    await node.subscribe(topic("N1", Channel.COMMAND), qos=1)
    reply_topic = topic("N1", Channel.COMMAND_REPLY)

    async def answer() -> None:
        async for m in node.messages:
            if m.topic.value == topic("N1", Channel.COMMAND):
                cmd = decode(Command, bytes(m.payload), "N1")  # type: ignore[arg-type]
                await node.publish(reply_topic, b'{"v":1,"id":"x","node":"N1","ok":true,"ts_ms":' + b"9" * 30 + b"}")
                await node.publish(reply_topic, b"\xff\xfe not json")
                ok = CommandReply(id=cmd.id, node="N1", ok=True, result="pong", ts_ms=NOW)
                await node.publish(reply_topic, encode(ok), qos=1)
                return

    assert hub.services.commands is not None
    async with asyncio.TaskGroup() as tg:
        tg.create_task(answer())
        cmd = Command(id="c1", node="N1", action="ping", expires_ms=NOW + 60_000)
        reply = await hub.services.commands.send(cmd, timeout_s=10)
    assert reply.result == "pong"
    assert {d.reason for d in hub.services.registry.list_dead_letters(limit=10)} == {"schema", "bad_json"}
