"""After a reconnect the backlog drains at its configured pace while live readings keep flowing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiomqtt

from citysense.agentconfig import AgentConfig
from citysense.contract import Channel, IngestAck, Reading, TelemetryBatch, decode, encode, topic
from citysense.runner import STOP_GRACE_S, cancel_and_wait
from edge_agent.buffer import DurableBuffer
from edge_agent.uplink import Uplink
from tests.agent.support import wait_for
from tests.harness import MosquittoServer


def config(url: str) -> AgentConfig:
    return AgentConfig.model_validate(
        {
            "node_id": "ND1",
            "hub": {"url": url},
            "connections": [{"id": "bus", "type": "modbus_tcp", "host": "127.0.0.1", "port": 1}],
            "devices": [{"id": "d1", "profile": "p", "connection": "bus", "unit_id": 1}],
            "uplink": {"batch_max_readings": 10, "batch_max_wait_s": 0.1, "drain_batches_per_s": 4},
        }
    )


async def test_live_readings_overtake_a_paced_backlog(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    now = time.time_ns() // 1_000_000
    buffer = DurableBuffer(tmp_path / "b.sqlite", "ND1")
    backlog = [Reading(device="d1", metric="m", value=i, ts_ms=now - 100_000 + i) for i in range(80)]
    buffer.put(backlog)  # 8 batches of 10 from an outage: 2 s at 4 batches/s
    uplink = Uplink(config(mosquitto.url), buffer)
    arrivals: list[tuple[float, list[int]]] = []
    async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="test-drain") as hub:
        await hub.subscribe(topic("ND1", Channel.TELEMETRY), qos=1)
        async with asyncio.TaskGroup() as tg:
            run = tg.create_task(uplink.run())
            await asyncio.wait_for(uplink.connected.wait(), 10)
            started = time.monotonic()
            await uplink.put([Reading(device="d1", metric="m", value=1000, ts_ms=now)])  # live
            async with asyncio.timeout(15):
                async for message in hub.messages:
                    assert isinstance(message.payload, bytes)
                    batch = decode(TelemetryBatch, message.payload)
                    arrivals.append((time.monotonic() - started, [int(r.value) for r in batch.readings]))  # type: ignore[arg-type]
                    if sum(len(v) for _, v in arrivals) == 81:
                        break

            assert buffer.unacked_count() == len(arrivals)  # PUBACKed by the broker, but kept until the hub says

            async def emptied() -> bool:
                return buffer.depth() == 0

            ack = IngestAck(node="ND1", epoch=buffer.epoch, seq=len(arrivals) - 1, ts_ms=now)
            await hub.publish(topic("ND1", Channel.ACK), encode(ack), qos=1, retain=True)
            await wait_for(emptied, 5, "the hub's acknowledgment to empty the buffer")
            await cancel_and_wait([run], grace_s=STOP_GRACE_S)
    order = [v for _, values in arrivals for v in values]
    assert sorted(order) == [*range(80), 1000]  # everything arrived once
    live_at = next(i for i, (_, values) in enumerate(arrivals) if 1000 in values)
    assert live_at < len(arrivals) - 1  # the live reading did not wait for the backlog
    assert arrivals[-1][0] >= 1.5  # the backlog was paced (8 batches at 4/s), not flushed at once


def test_last_will_of_a_large_node_fits_in_connect(tmp_path: Path) -> None:
    raw = config("mqtt://127.0.0.1:1883").model_dump(mode="json")
    raw["devices"] = [{"id": f"d{i}", "profile": "p", "connection": "bus", "unit_id": 1} for i in range(500)]
    raw["connections"] = [{"id": "bus", "type": "modbus_tcp", "host": "127.0.0.1", "port": 1}]
    raw["hub"]["password"] = None
    cfg = AgentConfig.model_validate(raw)
    points = {f"d{i}": [f"metric_{j:02d}" for j in range(30)] for i in range(500)}
    uplink = Uplink(cfg, DurableBuffer(tmp_path / "b.sqlite", "ND1"), points=points)
    assert len(uplink._status("offline", "s1")) < 65_535  # the will travels in CONNECT (MQTT 3.1.1 §3.1.3.3)
    assert b"metric_29" in uplink._status("online", "s1")  # the birth lists every point


async def test_health_status_reports_buffer_and_devices(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    from citysense.contract import DeviceHealth, NodeStatus

    buffer = DurableBuffer(tmp_path / "b.sqlite", "ND1", max_bytes=400)
    now = time.time_ns() // 1_000_000
    buffer.put([Reading(device="d1", metric="m", value=i, ts_ms=now + i) for i in range(20)])  # some are dropped
    devices = [DeviceHealth(device="d1", state="quarantined", reads_ok=5, reads_failed=9, last_good_ms=now)]
    uplink = Uplink(config(mosquitto.url), buffer, health=lambda: devices, malformed=lambda: {"bad_json": 2})
    status = decode(NodeStatus, uplink._status("online", "s1", with_health=True), "ND1")
    assert status.health is not None
    assert status.health.dropped > 0 and status.health.queue_depth + status.health.dropped == 20
    assert status.health.devices[0].state == "quarantined" and status.health.malformed == {"bad_json": 2}
    assert (status.health.epoch, status.health.last_acked_seq) == (buffer.epoch, -1)  # nothing acknowledged yet
    buffer.form(1)
    buffer.form(1)
    buffer.ack(0)
    health = decode(NodeStatus, uplink._status("online", "s1", with_health=True), "ND1").health
    assert health is not None and (health.last_acked_seq, health.unacked_batches) == (0, 1)


async def test_an_unacknowledged_batch_is_sent_again_after_the_timeout_and_not_after_the_ack(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    raw = config(mosquitto.url).model_dump(mode="json")
    raw["node_id"] = "ND2"
    raw["hub"]["password"] = None
    raw["uplink"].update(ack_timeout_s=0.5, ack_window_batches=1)
    buffer = DurableBuffer(tmp_path / "b.sqlite", "ND2")
    uplink = Uplink(AgentConfig.model_validate(raw), buffer)
    now = time.time_ns() // 1_000_000
    async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="test-resend") as hub:
        await hub.subscribe(topic("ND2", Channel.TELEMETRY), qos=1)
        async with asyncio.TaskGroup() as tg:
            run = tg.create_task(uplink.run())
            await asyncio.wait_for(uplink.connected.wait(), 10)
            await uplink.put([Reading(device="d1", metric="m", value=1, ts_ms=now)])
            seen: list[int] = []
            async with asyncio.timeout(10):
                async for message in hub.messages:
                    seen.append(decode(TelemetryBatch, message.payload, "ND2").seq)  # type: ignore[arg-type]
                    if len(seen) == 1:
                        await uplink.put([Reading(device="d1", metric="m", value=2, ts_ms=now + 1)])
                    if len(seen) == 2:
                        break
            assert seen == [0, 0]  # the window of one holds the second batch back; the first is sent again
            ack = IngestAck(node="ND2", epoch=buffer.epoch, seq=0, ts_ms=now)
            await hub.publish(topic("ND2", Channel.ACK), encode(ack), qos=1, retain=True)
            async with asyncio.timeout(10):
                async for message in hub.messages:
                    seen.append(decode(TelemetryBatch, message.payload, "ND2").seq)  # type: ignore[arg-type]
                    break
            assert seen[2] == 1  # acknowledged: the window moves on to the next batch, seq 0 is not sent again
            await cancel_and_wait([run], grace_s=STOP_GRACE_S)
