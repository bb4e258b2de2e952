"""The province store: VictoriaMetrics written with line protocol and read back through its export API."""

from __future__ import annotations

import asyncio
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest

from citysense.quality import Quality
from hub.store.base import StoredReading
from hub.store.errors import StoreUnavailable
from hub.store.victoria import VictoriaStore
from tests.harness.ports import free_port
from tests.harness.server import started
from tests.harness.victoria import VictoriaServer

T = TypeVar("T")
TS = 1_764_650_000_000
TAGS = {"town": "gaozhou-shicheng", "dept": "water"}


@pytest.fixture(scope="module")
def vm() -> Iterator[VictoriaServer]:
    server = started(lambda: VictoriaServer(dedup=True))
    yield server
    server.close()


def _reading(metric: str, value: float | str | None, ts: int, q: Quality = Quality.GOOD) -> StoredReading:
    return StoredReading("GZ-WG-0001", "GZ-WG-0001.level", "radar_level", metric, value, "m", ts, q, TAGS)


async def _eventually(vm: VictoriaServer, probe: Callable[[], Awaitable[T]], done: Callable[[T], bool]) -> T:
    """VictoriaMetrics makes new samples searchable after a flush: force it, then wait (bounded)."""
    for _ in range(50):
        await asyncio.to_thread(urllib.request.urlopen, f"{vm.url}/internal/force_flush", timeout=5)
        got = await probe()
        if done(got):
            return got
        await asyncio.sleep(0.1)
    return got


async def test_readings_round_trip_with_quality_strings_and_tags(vm: VictoriaServer) -> None:
    store = VictoriaStore(vm.url, f"county_{uuid.uuid4().hex[:8]}")
    await store.start()
    try:
        batch = [
            _reading("water_level", 12.25, TS),
            _reading("water_level", None, TS + 1000, Quality.TIMEOUT),
            _reading("water_level", 99.0, TS + 2000, Quality.OUT_OF_RANGE),
            _reading("status_text", "flood gate open, pump 2", TS + 2000),
        ]
        await store.write(batch)
        await store.write(batch)  # a re-sent batch is stored once
        got = await _eventually(
            vm, lambda: store.query_range("GZ-WG-0001.level", "radar_level", None, TS, TS + 3000), lambda g: len(g) >= 4
        )
    finally:
        await store.close()
    assert [(r.metric, r.value, r.quality, r.ts_ms) for r in got] == [
        ("water_level", 12.25, Quality.GOOD, TS),
        ("water_level", None, Quality.TIMEOUT, TS + 1000),
        ("status_text", "flood gate open, pump 2", Quality.GOOD, TS + 2000),
        ("water_level", 99.0, Quality.OUT_OF_RANGE, TS + 2000),
    ]
    assert all(r.node == "GZ-WG-0001" and dict(r.tags) == TAGS for r in got)


async def test_range_ends_are_half_open_and_databases_are_apart(vm: VictoriaServer) -> None:
    a = VictoriaStore(vm.url, f"county_{uuid.uuid4().hex[:8]}")
    b = VictoriaStore(vm.url, f"county_{uuid.uuid4().hex[:8]}")
    await a.start()
    await b.start()
    try:
        await a.write([_reading("water_level", float(i), TS + i * 1000) for i in range(5)])
        got = await _eventually(
            vm,
            lambda: a.query_range("GZ-WG-0001.level", "radar_level", ["water_level"], TS, TS + 3000),
            lambda g: len(g) >= 3,
        )
        other = await b.query_range("GZ-WG-0001.level", "radar_level", None, TS, TS + 10_000)
    finally:
        await a.close()
        await b.close()
    assert [r.value for r in got] == [0.0, 1.0, 2.0]
    assert other == []


async def test_latest_is_the_newest_reading_per_metric(vm: VictoriaServer) -> None:
    import time

    now = int(time.time() * 1000)
    store = VictoriaStore(vm.url, f"county_{uuid.uuid4().hex[:8]}")
    await store.start()
    try:
        await store.write([_reading("water_level", float(i), now - 5000 + i * 1000) for i in range(3)])
        got = await _eventually(
            vm,
            lambda: store.latest([("GZ-WG-0001.level", "radar_level")]),
            lambda g: (
                g.get("GZ-WG-0001.level", {}).get("water_level", None) is not None
                and g["GZ-WG-0001.level"]["water_level"].value == 2.0
            ),
        )
    finally:
        await store.close()
    assert got["GZ-WG-0001.level"]["water_level"].ts_ms == now - 3000


async def test_unreachable_server_is_unavailable() -> None:
    store = VictoriaStore(f"http://127.0.0.1:{free_port()}", "county", timeout_s=2.0)
    try:
        with pytest.raises(StoreUnavailable):
            await store.write([_reading("water_level", 1.0, TS)])
        with pytest.raises(StoreUnavailable):
            await store.start()
    finally:
        await store.close()
