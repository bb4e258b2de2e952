"""``/api/v1/latest`` (many devices in one call, filters, cursor, CSV) and ``/metrics``."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from citysense.quality import Quality
from hub.api.app import create_app
from hub.api.services import HubServices
from hub.store.base import StoredReading
from tests.hub.conftest import HubParts

NOW = time.time_ns() // 1_000_000


@pytest.fixture
async def api(hub_parts: HubParts) -> AsyncIterator[httpx.AsyncClient]:
    services = HubServices(
        hub_parts.registry, hub_parts.store, hub_parts.latest, hub_parts.stats, hub_parts.profiles, None, open_read=True
    )
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
        yield client


def _fill(parts: HubParts, nodes: int) -> None:
    """One registered node N1 and ``nodes`` others (unregistered, as in a bigger fleet) with one gauge each."""
    readings = [
        StoredReading(n, f"{n}.gauge", "test_gauge", m, float(i), "m", NOW, Quality.GOOD)
        for i, n in enumerate(["N1"] + [f"X{i:04d}" for i in range(nodes)])
        for m in ("level", "state")
    ]
    parts.latest.update(readings)


async def test_every_device_in_pages_by_cursor(api: httpx.AsyncClient, hub_parts: HubParts) -> None:
    _fill(hub_parts, 2500)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 1000} | ({"cursor": cursor} if cursor else {})
        body = (await api.get("/api/v1/latest", params=params)).json()
        seen += [d["device"] for d in body["devices"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 2501 == len(set(seen))
    assert seen == sorted(seen)


async def test_filters_by_region_subtree_department_and_node(api: httpx.AsyncClient, hub_parts: HubParts) -> None:
    _fill(hub_parts, 20)
    by_city = (await api.get("/api/v1/latest", params={"region": "440981"})).json()
    assert [d["device"] for d in by_city["devices"]] == ["N1.gauge"]
    by_dept = (await api.get("/api/v1/latest", params={"department": "water"})).json()
    assert [d["device"] for d in by_dept["devices"]] == ["N1.gauge"]
    by_node = (await api.get("/api/v1/latest", params={"node": ["X0003", "X0007"]})).json()
    assert [d["device"] for d in by_node["devices"]] == ["X0003.gauge", "X0007.gauge"]
    assert (await api.get("/api/v1/latest", params={"region": "999"})).status_code == 404


async def test_csv_has_one_row_per_metric(api: httpx.AsyncClient, hub_parts: HubParts) -> None:
    _fill(hub_parts, 2)
    resp = await api.get("/api/v1/latest", params={"format": "csv"})
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert len(rows) == 6
    assert rows[0] == {
        "device": "N1.gauge",
        "metric": "level",
        "value": "0.0",
        "unit": "m",
        "ts_ms": str(NOW),
        "quality": "good",
    }


async def test_metrics_expose_ingest_counters(api: httpx.AsyncClient, hub_parts: HubParts) -> None:
    payload = {
        "v": 1,
        "node": "N1",
        "seq": 1,
        "sent_ms": NOW,
        "readings": [
            {"device": "gauge", "metric": "level", "value": 1.0, "ts_ms": NOW},
            {"device": "gauge", "metric": "level", "value": 99.0, "ts_ms": NOW + 1},
        ],
    }
    await hub_parts.pipeline.handle("citysense/v1/N1/telemetry", json.dumps(payload).encode())
    text = (await api.get("/metrics")).text
    assert "citysense_readings_stored_total 1" in text
    assert 'citysense_dead_letters_total{reason="out_of_range"} 1' in text
    assert 'citysense_store_write_seconds_bucket{le="+Inf"} 1' in text
    assert "citysense_spool_readings 0" in text


async def test_a_scoped_caller_sees_only_its_departments_devices(hub_parts: HubParts) -> None:
    from hub.api import deps
    from hub.registry.access import Principal

    _fill(hub_parts, 3)
    p = hub_parts
    app = create_app(HubServices(p.registry, p.store, p.latest, p.stats, p.profiles, None))

    async def weather_viewer() -> Principal:
        return Principal("u1", "viewer", None, frozenset({"weather"}))

    app.dependency_overrides[deps._principal] = weather_viewer
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as client:
        latest = (await client.get("/api/v1/latest")).json()
        readings = (await client.get("/api/v1/readings", params={"start_ms": 0, "device": "N1.gauge"})).json()
    assert latest["devices"] == []  # N1 belongs to water
    assert readings["series"] == []
