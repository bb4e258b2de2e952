"""Nothing accepted is lost while InfluxDB is down: batches spool to disk and drain in order."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

from citysense.contract import LEGACY_EPOCH
from citysense.runner import STOP_GRACE_S, cancel_and_wait
from hub.ingest.spool import Spool
from hub.store.influx_v1 import InfluxV1Store
from hub.store.sqlite import SqliteStore
from tests.harness import InfluxServer
from tests.hub.conftest import build_parts

T = "citysense/v1/N1/telemetry"
# 30 s in the suite: the store's 2 s timeout and the spool's retries come round many times over. The issue asked
# for two minutes: CITYSENSE_INFLUX_OUTAGE_S=120 runs that.
OUTAGE_S = float(os.environ.get("CITYSENSE_INFLUX_OUTAGE_S", "30"))


def _batch(seq: int, ts_ms: int) -> bytes:
    readings = [
        {"device": "gauge", "metric": "level", "value": seq / 1000, "unit": "m", "ts_ms": ts_ms},
        {"device": "gauge", "metric": "state", "value": seq % 2, "ts_ms": ts_ms},
    ]
    return json.dumps({"v": 1, "node": "N1", "seq": seq, "sent_ms": ts_ms, "readings": readings}).encode()


async def test_influx_outage_under_steady_load_loses_and_duplicates_nothing(
    influx_fresh: InfluxServer, tmp_path: Path
) -> None:
    store = InfluxV1Store(influx_fresh.url, "outage", timeout_s=2.0)
    await store.start()
    spool = Spool(tmp_path / "spool.db")
    parts = build_parts(tmp_path, store, spool)
    t0 = time.time_ns() // 1_000_000 - 60_000
    sent = 0

    async def load(until: asyncio.Event) -> None:
        nonlocal sent
        while not until.is_set():
            await parts.pipeline.handle(T, _batch(sent, t0 + sent))
            sent += 1
            await asyncio.sleep(0.02)

    try:
        async with asyncio.TaskGroup() as tg:
            drain = tg.create_task(parts.pipeline.drain(), name="drain")
            stop_load = asyncio.Event()
            tg.create_task(load(stop_load), name="load")
            await asyncio.sleep(1.0)
            influx_fresh.stop()
            await asyncio.sleep(OUTAGE_S)
            assert spool.batches > 0
            influx_fresh.start()
            await asyncio.sleep(1.0)
            stop_load.set()
            async with asyncio.timeout(60):
                await spool.empty.wait()
            await cancel_and_wait([drain], grace_s=STOP_GRACE_S)
        rows = await store.query_range("N1.gauge", "test_gauge", ["level"], t0, t0 + sent + 1, limit=1_000_000)
        assert [r.value for r in rows] == [seq / 1000 for seq in range(sent)]
        assert spool.spooled_total > 0
        assert spool.drained_total == spool.spooled_total
        assert not parts.stats.dead_letters
    finally:
        spool.close()
        await store.close()
        parts.registry.engine.dispose()


async def test_spooled_batches_survive_a_restart_and_drain_in_order(influx: InfluxServer, tmp_path: Path) -> None:
    dead = InfluxV1Store("http://127.0.0.1:9", "x", timeout_s=1.0)  # nothing listens on port 9
    spool = Spool(tmp_path / "spool.db")
    parts = build_parts(tmp_path, dead, spool)
    t0 = time.time_ns() // 1_000_000 - 10_000
    for seq in range(5):
        await parts.pipeline.handle(T, _batch(seq, t0 + seq))
    assert (spool.batches, spool.readings) == (5, 10)
    spool.close()
    await dead.close()
    parts.registry.engine.dispose()

    store = InfluxV1Store(influx.url, "restart_spool")
    await store.start()
    reopened = Spool(tmp_path / "spool.db")
    parts = build_parts(tmp_path, store, reopened)
    assert reopened.batches == 5
    try:
        async with asyncio.TaskGroup() as tg:
            drain = tg.create_task(parts.pipeline.drain(), name="drain")
            async with asyncio.timeout(30):
                await reopened.empty.wait()
            await cancel_and_wait([drain], grace_s=STOP_GRACE_S)
        rows = await store.query_range("N1.gauge", "test_gauge", ["level"], t0, t0 + 10)
        assert [r.value for r in rows] == [0.0, 0.001, 0.002, 0.003, 0.004]
    finally:
        reopened.close()
        await store.close()
        parts.registry.engine.dispose()


async def test_full_spool_holds_the_message_until_the_store_returns(tmp_path: Path) -> None:
    dead = InfluxV1Store("http://127.0.0.1:9", "x", timeout_s=1.0)
    spool = Spool(tmp_path / "spool.db", max_readings=2)
    parts = build_parts(tmp_path, dead, spool)
    t0 = time.time_ns() // 1_000_000 - 10_000
    await parts.pipeline.handle(T, _batch(0, t0))
    second = asyncio.create_task(parts.pipeline.handle(T, _batch(1, t0 + 1)), name="second")
    done, _ = await asyncio.wait({second}, timeout=1.5)
    assert not done, "a message was reported safe although neither store nor spool took it"
    good = SqliteStore(tmp_path / "readings.db")
    await good.start()
    parts.pipeline.store = good
    try:
        async with asyncio.TaskGroup() as tg:
            drain = tg.create_task(parts.pipeline.drain(), name="drain")
            async with asyncio.timeout(60):
                await second
                await spool.empty.wait()
            await cancel_and_wait([drain], grace_s=STOP_GRACE_S)
        rows = await good.query_range("N1.gauge", "test_gauge", ["level"], t0, t0 + 10)
        assert [r.value for r in rows] == [0.0, 0.001]
    finally:
        spool.close()
        await good.close()
        await dead.close()
        parts.registry.engine.dispose()


async def test_dedupe_survives_a_hub_restart(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "readings.db")
    await store.start()
    first = build_parts(tmp_path, store)
    t0 = time.time_ns() // 1_000_000
    await first.pipeline.handle(T, _batch(7, t0))
    first.registry.engine.dispose()
    again = build_parts(tmp_path, store)  # a new process: same registry database, empty memory
    try:
        await again.pipeline.handle(T, _batch(7, t0))
        assert (again.stats.duplicates, again.stats.batches) == (1, 0)
    finally:
        await store.close()
        again.registry.engine.dispose()


async def test_pruned_ledger_forgets_old_batches(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "readings.db")
    await store.start()
    parts = build_parts(tmp_path, store)
    try:
        await parts.pipeline.handle(T, _batch(3, time.time_ns() // 1_000_000))
        fresh = build_parts(tmp_path, store).pipeline.dedupe  # no memory window: asks the database
        key = ("N1", LEGACY_EPOCH, 3)  # a batch without an epoch, as agents before epochs send
        assert key in await fresh.seen_many([key])
        await fresh.prune(time.time_ns() // 1_000_000 + 1)
        assert key not in await fresh.seen_many([key])
    finally:
        await store.close()
        parts.registry.engine.dispose()
