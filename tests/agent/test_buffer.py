"""The durable buffer on a real SQLite file: seq fixed at formation, caps, drops counted, restart-safe."""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path

import pytest

from citysense.contract import MAX_PAYLOAD_BYTES, IngestAck, Reading, TelemetryBatch, decode
from edge_agent.ackwindow import AckWindow
from edge_agent.buffer import DurableBuffer
from edge_agent.reconnect import LinkState, ReconnectPolicy, is_auth_failure
from hub.ingest.wire import decode_telemetry

T0 = 1_700_000_000_000


def readings(n: int, start: int = 0) -> list[Reading]:
    return [Reading(device="d1", metric="count", value=i, ts_ms=T0 + i) for i in range(start, start + n)]


def test_batch_resent_after_restart_has_same_seq_and_bytes(tmp_path: Path) -> None:
    buf = DurableBuffer(tmp_path / "b.sqlite", "N1")
    buf.put(readings(5))
    first = buf.form(3)
    assert first is not None and first.seq == 0 and first.count == 3
    buf.close()  # "crash" before the PUBACK

    again = DurableBuffer(tmp_path / "b.sqlite", "N1")
    [pending] = again.unacked()
    assert (pending.seq, pending.payload) == (first.seq, first.payload)
    batch = decode(TelemetryBatch, pending.payload, "N1")
    assert [r.value for r in batch.readings] == [0, 1, 2]
    second = again.form(10)
    assert second is not None and second.seq == 1
    assert [r.value for r in decode(TelemetryBatch, second.payload).readings] == [3, 4]
    again.ack(0)
    again.ack(1)
    assert again.unacked() == [] and again.depth() == 0
    again.close()
    assert DurableBuffer(tmp_path / "b.sqlite", "N1").form(1) is None


def test_seq_keeps_increasing_across_restarts(tmp_path: Path) -> None:
    seqs = []
    for round_ in range(3):
        buf = DurableBuffer(tmp_path / "b.sqlite", "N1")
        buf.put(readings(2, round_ * 2))
        b = buf.form(10)
        assert b is not None
        buf.ack(b.seq)
        seqs.append(b.seq)
        buf.close()
    assert seqs == [0, 1, 2]


def test_size_cap_drops_oldest_and_counts(tmp_path: Path) -> None:
    one = len(readings(1, 10)[0].model_dump_json())  # values 10..34 all encode to the same length
    buf = DurableBuffer(tmp_path / "b.sqlite", "N1", max_bytes=one * 10 + 5)
    for i in range(10, 35):
        buf.put(readings(1, i))
    assert buf.depth() == 10
    assert buf.dropped == 15
    batch = buf.form(100)
    assert batch is not None
    assert [r.value for r in decode(TelemetryBatch, batch.payload).readings] == list(range(25, 35))
    buf.close()
    assert DurableBuffer(tmp_path / "b.sqlite", "N1").dropped == 15


def test_age_cap_expires_readings_and_batches(tmp_path: Path) -> None:
    buf = DurableBuffer(tmp_path / "b.sqlite", "N1", max_age_s=60)
    buf.put(readings(4))
    assert buf.form(2) is not None
    now = time.time_ns() // 1_000_000
    assert buf.expire(now_ms=now) == 0 and buf.depth() == 4  # nothing is older than 60 s yet
    assert buf.oldest_age_s(now_ms=now + 30_000) >= 29
    assert buf.expire(now_ms=now + 61_000) == 4
    assert buf.depth() == 0 and buf.dropped == 4 and buf.oldest_age_s() == 0.0


def test_payload_is_a_valid_contract_batch(tmp_path: Path) -> None:
    buf = DurableBuffer(tmp_path / "b.sqlite", "N1")
    buf.put([Reading(device="d1", metric="level", value=None, quality="timeout", ts_ms=T0)])
    b = buf.form(10)
    assert b is not None
    msg = json.loads(b.payload)
    assert msg["seq"] == 0 and msg["readings"][0]["quality"] == "timeout"


def test_reconnect_policy_full_jitter_is_capped_and_auth_waits_longest() -> None:
    policy = ReconnectPolicy(min_s=0.5, max_s=8, auth_s=300, rng=random.Random(1))
    delays = [policy.failed() for _ in range(20)]
    assert all(0 <= d <= 8 for d in delays)
    assert max(delays[6:]) > 4  # the cap is reached, not stuck at the minimum
    assert policy.state is LinkState.BACKING_OFF
    assert policy.failed(auth=True) == 300 and policy.state is LinkState.AUTH_FAILED
    policy.connected()
    assert policy.state is LinkState.CONNECTED and policy.failed() <= 0.5
    assert is_auth_failure(5) and is_auth_failure(0x87) and not is_auth_failure(7) and not is_auth_failure(None)


def test_a_full_batch_is_split_under_the_hubs_limit(tmp_path: Path) -> None:
    buf = DurableBuffer(tmp_path / "b.sqlite", "N1")
    big = [Reading(device="device-with-a-long-name", metric="level", value=1234.5678 + i, unit="m", ts_ms=T0 + i)
           for i in range(10_000)]  # fmt: skip
    buf.put(big)
    assert sum(len(r.model_dump_json()) for r in big) > MAX_PAYLOAD_BYTES  # one batch of all would be refused
    batches = []
    while (b := buf.form(10_000)) is not None:
        batches.append(b)
    assert len(batches) >= 2 and all(len(b.payload) <= MAX_PAYLOAD_BYTES for b in batches)
    values = [r.value for b in batches for r in decode_telemetry(b.payload, "N1").readings]
    assert values == [r.value for r in big]  # every reading once, in order
    assert buf.dropped == 0


def test_hub_acknowledgment_frees_batches_and_a_new_state_gets_a_new_epoch(tmp_path: Path) -> None:
    buf = DurableBuffer(tmp_path / "b.sqlite", "N1")
    buf.put(readings(6))
    b0, b1, b2 = (buf.form(2) for _ in range(3))
    assert b0 is not None and b1 is not None and b2 is not None
    assert json.loads(b2.payload)["floor"] == 0  # the oldest batch still held
    assert buf.ack(1) == 2 and [b.seq for b in buf.unacked()] == [2]
    epoch = buf.epoch
    buf.close()
    again = DurableBuffer(tmp_path / "b.sqlite", "N1")
    assert (again.epoch, again.acked) == (epoch, 1)  # both survive a restart
    again.close()
    assert DurableBuffer(tmp_path / "other.sqlite", "N1").epoch != epoch


async def test_a_full_window_lets_one_batch_through_to_tell_the_hub_about_dropped_batches(tmp_path: Path) -> None:
    buf = DurableBuffer(tmp_path / "b.sqlite", "N1", max_age_s=60)
    window = AckWindow(buf, window=2, timeout_s=30)
    buf.put(readings(3))
    first = buf.form(1)
    assert first is not None
    t0 = time.time_ns() // 1_000_000
    await asyncio.sleep(0.05)
    for _ in range(2):
        b = buf.form(1)
        assert b is not None
        window.sent(b.seq)  # seqs 1 and 2 in flight: the window is full
    window.acked(IngestAck(node="N1", epoch=buf.epoch, seq=-1, ts_ms=t0))
    buf.expire(now_ms=t0 + 60_020)  # the age cap drops batch 0, never sent: the hub would wait for it for ever
    async with asyncio.timeout(1):
        await window.room()  # once, so that the next batch carries floor 1
    buf.put(readings(1, 10))
    told = buf.form(1)
    assert told is not None and json.loads(told.payload)["floor"] == 1
    window.sent(told.seq)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await window.room()  # not twice for the same gap: the window holds again
