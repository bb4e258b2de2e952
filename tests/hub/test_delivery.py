"""End to end over real Mosquitto and InfluxDB: a hub crash, a broker restart and two workers lose nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiomqtt
import pytest

from citysense.contract import Channel, subscription
from citysense.runner import STOP_GRACE_S, cancel_and_wait
from hub.ingest.consumer import Consumer
from hub.ingest.pipeline import StoredObserver
from hub.latest_sync import sync_once
from hub.store.base import StoredReading
from hub.store.influx_v1 import InfluxV1Store
from tests.harness import InfluxServer, MosquittoServer
from tests.hub.conftest import FLEET, KIND, PROFILE, build_parts

ROOT = Path(__file__).resolve().parents[2]
READINGS_PER_BATCH = 10


def _batch(seq: int, t0: int) -> bytes:
    readings = [
        {"device": "gauge", "metric": "level", "value": _value(seq, i), "unit": "m", "ts_ms": t0 + seq * 100 + i}
        for i in range(READINGS_PER_BATCH)
    ]
    return json.dumps({"v": 1, "node": "N1", "seq": seq, "sent_ms": t0, "readings": readings}).encode()


async def _reserve_session(broker: MosquittoServer, client_id: str, share_group: str | None = None) -> None:
    """Create the hub's persistent session so the broker queues for it before the hub first connects."""
    async with aiomqtt.Client(broker.host, broker.port, identifier=client_id, clean_session=False) as c:
        for ch in (Channel.TELEMETRY, Channel.STATUS):
            await c.subscribe(subscription(ch, "citysense/v1", share_group), qos=1)


async def _publish(broker: MosquittoServer, seqs: range, t0: int, pause_s: float = 0.0) -> None:
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"agent-N1-{seqs.start}") as c:
        for seq in seqs:
            await c.publish("citysense/v1/N1/telemetry", _batch(seq, t0), qos=1)
            if pause_s:
                await asyncio.sleep(pause_s)


async def _wait_for_points(store: InfluxV1Store, t0: int, n_batches: int, timeout_s: float = 90) -> list[float]:
    """Poll InfluxDB until it holds every point, or the timeout; return the values found."""
    want = n_batches * READINGS_PER_BATCH
    values: list[float] = []
    async with asyncio.timeout(timeout_s):
        while True:
            rows = await store.query_range("N1.gauge", "test_gauge", ["level"], t0, t0 + n_batches * 100, want + 10)
            values = [float(r.value) for r in rows if r.value is not None]
            if len(values) >= want:
                return values
            await asyncio.sleep(0.5)


def _value(seq: int, i: int) -> float:
    return seq / 100 + i / 10_000  # unique, and inside the test profile's range [-5, 50]


def _expected(n_batches: int) -> list[float]:
    return [_value(seq, i) for seq in range(n_batches) for i in range(READINGS_PER_BATCH)]


@pytest.fixture
async def influx_db(influx: InfluxServer, request: pytest.FixtureRequest) -> AsyncIterator[InfluxV1Store]:
    store = InfluxV1Store(influx.url, f"delivery_{request.node.name[5:30]}")
    await store.start()
    yield store
    await store.close()


def _hub_files(tmp_path: Path, broker: MosquittoServer, influx: InfluxServer, db: str) -> Path:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "test_gauge.yaml").write_text(PROFILE)
    (tmp_path / "kinds").mkdir()
    (tmp_path / "kinds" / "test_site.yaml").write_text(KIND)
    (tmp_path / "fleet.yaml").write_text(json.dumps(FLEET))  # JSON is YAML
    settings = {
        "data_dir": str(tmp_path / "data"),
        "mqtt_url": broker.url,
        "mqtt_client_id": "hub-under-test",
        "influx": {"url": influx.url, "database": db},
        "api_port": 0,
        "profiles_dir": str(tmp_path / "profiles"),
        "node_kinds_dir": str(tmp_path / "kinds"),
        "fleet_file": str(tmp_path / "fleet.yaml"),
    }
    (tmp_path / "hub.yaml").write_text(json.dumps(settings))
    return tmp_path / "hub.yaml"


def _start_hub(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "run", "--config", str(config), "--log-level", "WARNING"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )


async def test_hub_killed_under_load_and_restarted_stores_every_point_once(
    mosquitto_fresh: MosquittoServer, influx: InfluxServer, influx_db: InfluxV1Store, tmp_path: Path
) -> None:
    config = _hub_files(tmp_path, mosquitto_fresh, influx, influx_db.database)
    await _reserve_session(mosquitto_fresh, "hub-under-test")
    t0 = time.time_ns() // 1_000_000 - 3_600_000
    n = 600
    hub = _start_hub(config, tmp_path / "hub.log")
    try:
        publisher = asyncio.create_task(_publish(mosquitto_fresh, range(n), t0, pause_s=0.005), name="agent")
        await asyncio.sleep(1.5)
        hub.send_signal(signal.SIGKILL)
        await asyncio.to_thread(hub.wait, 10)
        await asyncio.sleep(0.5)
        hub = _start_hub(config, tmp_path / "hub.log")
        await publisher
        values = await _wait_for_points(influx_db, t0, n)
        assert values == _expected(n), (tmp_path / "hub.log").read_text()[-3000:]
    finally:
        hub.kill()
        hub.wait(10)


async def test_broker_restart_hub_reconnects_resubscribes_and_catches_up(
    mosquitto_fresh: MosquittoServer, influx: InfluxServer, influx_db: InfluxV1Store, tmp_path: Path
) -> None:
    parts = build_parts(tmp_path, influx_db)
    consumer = Consumer(parts.pipeline, mosquitto_fresh.host, mosquitto_fresh.port, client_id="hub-broker-restart")
    t0 = time.time_ns() // 1_000_000 - 3_600_000
    try:
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(consumer.run(), name="consumer")
            async with asyncio.timeout(10):
                await consumer.subscribed.wait()
            await _publish(mosquitto_fresh, range(50), t0)
            await asyncio.to_thread(mosquitto_fresh.restart)
            await _publish(mosquitto_fresh, range(50, 100), t0)  # queued for the hub's session while it reconnects
            values = await _wait_for_points(influx_db, t0, 100)
            assert values == _expected(100)
            assert consumer.subscribed.is_set()
            await cancel_and_wait([task], grace_s=STOP_GRACE_S)
    finally:
        parts.registry.engine.dispose()


async def test_two_workers_on_a_shared_subscription_store_every_batch_exactly_once(
    mosquitto_fresh: MosquittoServer, influx_db: InfluxV1Store, tmp_path: Path
) -> None:
    workers = [build_parts(tmp_path, influx_db) for _ in range(2)]  # one registry database, like one PostgreSQL
    consumers = [
        Consumer(w.pipeline, mosquitto_fresh.host, mosquitto_fresh.port, client_id=f"hub-w{i}", share_group="hubs")
        for i, w in enumerate(workers)
    ]
    t0 = time.time_ns() // 1_000_000 - 3_600_000
    n = 200
    per_worker = [0, 0]
    all_stored = asyncio.Event()

    def observer(i: int) -> StoredObserver:
        async def count(readings: Sequence[StoredReading]) -> None:
            per_worker[i] += len(readings) // READINGS_PER_BATCH  # batches stored by worker i
            if sum(per_worker) >= n:
                all_stored.set()

        return count

    for i, w in enumerate(workers):
        w.pipeline.on_stored.append(observer(i))
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(c.run(), name=f"worker-{i}") for i, c in enumerate(consumers)]
            async with asyncio.timeout(10):
                for c in consumers:
                    await c.subscribed.wait()
            await _publish(mosquitto_fresh, range(n), t0)
            async with asyncio.timeout(60):
                await all_stored.wait()
            values = await _wait_for_points(influx_db, t0, n)
            await cancel_and_wait(tasks, grace_s=STOP_GRACE_S)
        assert values == _expected(n)
        assert 0 not in per_worker, "the broker did not share the subscription"
        assert sum(per_worker) == n
        assert sum(w.stats.duplicates for w in workers) == 0
        # Each worker's /latest holds what it ingested; the sync fills in what the other one stored.
        newest = _value(n - 1, READINGS_PER_BATCH - 1)
        held = [w.latest.get("N1.gauge")["level"].value for w in workers]
        assert newest in held
        for w in workers:
            assert await sync_once(w.latest, influx_db, w.pipeline.snapshot) == 1
        assert [w.latest.get("N1.gauge")["level"].value for w in workers] == [newest, newest]
    finally:
        for w in workers:
            w.registry.engine.dispose()
