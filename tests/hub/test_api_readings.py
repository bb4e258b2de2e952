"""``/api/v1/readings``: windows with mean/min/max/sum/last, filters, cursor and CSV."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from hub.api.app import create_app
from hub.api.services import HubServices
from tests.hub.conftest import HubParts

T = "citysense/v1/N1/telemetry"
NOW = time.time_ns() // 1_000_000
T0 = (NOW - 600_000) // 60_000 * 60_000


@pytest.fixture
async def api(hub_parts: HubParts) -> AsyncIterator[httpx.AsyncClient]:
    p = hub_parts
    app = create_app(HubServices(p.registry, p.store, p.latest, p.stats, p.profiles, None, open_read=True))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as client:
        # Minute one: 1, 2, 3; minute two: 10, 20 and a failed read that must not count.
        readings = [(0, 1.0), (10_000, 2.0), (20_000, 3.0), (60_000, 10.0), (70_000, 20.0)]
        rs = [{"device": "gauge", "metric": "level", "value": v, "unit": "m", "ts_ms": T0 + dt} for dt, v in readings]
        rs.append({"device": "gauge", "metric": "level", "ts_ms": T0 + 80_000, "quality": "timeout"})
        batch = {"v": 1, "node": "N1", "seq": 1, "sent_ms": NOW, "readings": rs}
        await p.pipeline.handle(T, json.dumps(batch).encode())
        yield client


@pytest.mark.parametrize(
    ("agg", "expected"),
    [("mean", [2.0, 15.0]), ("min", [1.0, 10.0]), ("max", [3.0, 20.0]), ("sum", [6.0, 30.0]), ("last", [3.0, 20.0])],
)
async def test_one_minute_windows(api: httpx.AsyncClient, agg: str, expected: list[float]) -> None:
    params = {"start_ms": T0, "end_ms": T0 + 120_000, "window_s": 60, "agg": agg, "device": "N1.gauge"}
    body = (await api.get("/api/v1/readings", params=params)).json()
    (series,) = body["series"]
    assert series["metric"] == "level"
    assert series["points"] == [[T0, expected[0]], [T0 + 60_000, expected[1]]]
    assert body["resolution"] == "raw"


async def test_filters_and_csv(api: httpx.AsyncClient) -> None:
    base = {"start_ms": T0, "end_ms": T0 + 120_000, "window_s": 120, "agg": "max"}
    by_region = (await api.get("/api/v1/readings", params=base | {"region": "440981", "format": "csv"})).text
    rows = list(csv.reader(io.StringIO(by_region)))
    assert rows[0] == ["device", "metric", "window_start_ms", "max"]
    assert max(float(r[3]) for r in rows[1:]) == 20.0
    assert {(r[0], r[1]) for r in rows[1:]} == {("N1.gauge", "level")}
    other_dept = (await api.get("/api/v1/readings", params=base | {"department": "weather"})).json()
    assert other_dept["series"] == []
    after_last = (await api.get("/api/v1/readings", params=base | {"cursor": "N1.gauge"})).json()
    assert after_last["series"] == []
    assert (await api.get("/api/v1/readings", params=base | {"region": "nope"})).status_code == 404


async def test_a_long_range_over_the_embedded_store_is_answered_from_its_rollups(hub_parts: HubParts) -> None:
    from hub.store.retention import RetentionSettings
    from hub.store.sqlite import SqliteStore

    p = hub_parts
    assert isinstance(p.store, SqliteStore)
    p.store.retention = RetentionSettings()  # what the hub configures by default (sqlite_retention)
    app = create_app(HubServices(p.registry, p.store, p.latest, p.stats, p.profiles, None, open_read=True))
    values = [(0, 1.0), (10_000, 2.0), (20_000, 3.0), (60_000, 10.0), (70_000, 20.0)]
    rs = [{"device": "gauge", "metric": "level", "value": v, "unit": "m", "ts_ms": T0 + dt} for dt, v in values]
    await p.pipeline.handle(T, json.dumps({"v": 1, "node": "N1", "seq": 7, "sent_ms": NOW, "readings": rs}).encode())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as client:
        params = {"start_ms": NOW - 10 * 86_400_000, "end_ms": NOW + 1, "window_s": 86_400 * 10, "agg": "max"}
        body = (await client.get("/api/v1/readings", params=params | {"device": "N1.gauge"})).json()
    assert body["resolution"] == "m1"
    (series,) = body["series"]
    assert [v for _, v in series["points"]] == [15.0]  # the larger of the two minute means (2 and 15)
