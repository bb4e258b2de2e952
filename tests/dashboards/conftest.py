"""A real InfluxDB holding two hours of the demo fleet's readings, written by the hub (rollups on)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hub.store.influx_v1 import InfluxV1Store
from hub.store.retention import M1, RetentionSettings
from tests.dashboards.fleetdata import FleetData, fill
from tests.harness.influx import InfluxServer


@dataclass
class FilledInflux:
    """The server, the database and what was written into it."""

    url: str
    database: str
    data: FleetData


async def _fill(url: str, database: str, registry: Path) -> FleetData:
    from citysense.codec import DataType

    store = InfluxV1Store(url, database, rollups=RetentionSettings())
    try:
        await store.start()
        data = await fill(store, registry)
        store.rollup_metrics = {
            pid: [p.metric for p in prof.points if p.type is not DataType.STRING] for pid, prof in data.profiles.items()
        }
        await store.rollup_range(M1, data.start_ms - 60_000, data.end_ms + 60_000)
    finally:
        await store.close()
    return data


@pytest.fixture(scope="module")
def filled_influx(influx: InfluxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FilledInflux]:
    """InfluxDB with the demo fleet's last two hours in ``raw`` and ``m1``."""
    database = f"dash_{uuid.uuid4().hex[:8]}"
    registry = tmp_path_factory.mktemp("dash") / "registry.db"
    data = asyncio.run(_fill(influx.url, database, registry))
    yield FilledInflux(influx.url, database, data)
    data.registry.engine.dispose()
