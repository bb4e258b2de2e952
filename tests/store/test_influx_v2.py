"""The v2 write API through influxdb-client, live against VictoriaMetrics (it serves ``/api/v2/write``)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from citysense.quality import Quality
from hub.store.base import StoredReading
from hub.store.errors import StoreUnavailable
from hub.store.influx_v2 import InfluxV2Store
from tests.harness import HarnessError
from tests.harness.victoria import VictoriaServer

T0 = 1_767_225_600_000


@pytest.fixture
def victoria() -> Iterator[VictoriaServer]:
    try:
        server = VictoriaServer()
        server.start()
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.close()


def _export(server: VictoriaServer, match: str) -> list[dict[str, Any]]:
    """Every series matching ``match`` with its samples, after forcing VictoriaMetrics to flush."""
    urllib.request.urlopen(f"{server.url}/internal/force_flush", timeout=10).close()
    q = urllib.parse.urlencode({"match[]": match, "start": "0"})
    with urllib.request.urlopen(f"{server.url}/api/v1/export?{q}", timeout=10) as resp:
        return [json.loads(line) for line in resp.read().decode().splitlines() if line.strip()]


async def test_v2_write_lands_with_tags_values_and_quality(victoria: VictoriaServer) -> None:
    store = InfluxV2Store(victoria.url, "citysense", "gaozhou", "a-token")
    readings = [
        StoredReading("n1", "n1.g", "gauge", "level", 1.5 + i, "m", T0 + i * 1000, Quality.GOOD, {"dept": "water"})
        for i in range(3)
    ]
    readings.append(
        StoredReading("n1", "n1.g", "gauge", "level", None, "m", T0 + 5000, Quality.TIMEOUT, {"dept": "water"})
    )
    try:
        await store.write(readings)
    finally:
        await store.close()
    series = {s["metric"]["__name__"]: s for s in _export(victoria, '{__name__=~"gauge_level.*"}')}
    level = series["gauge_level"]
    assert level["metric"]["device"] == "n1.g"
    assert level["metric"]["dept"] == "water"
    assert level["values"] == [1.5, 2.5, 3.5]
    assert level["timestamps"] == [T0, T0 + 1000, T0 + 2000]
    assert series["gauge_level__q"]["values"] == [0, 0, 0, int(Quality.TIMEOUT)]


async def test_v2_write_unreachable_is_unavailable(victoria: VictoriaServer) -> None:
    victoria.close()
    store = InfluxV2Store(victoria.url, "citysense", "gaozhou", "a-token", timeout_s=2.0)
    with pytest.raises(StoreUnavailable):
        await store.write([StoredReading("n1", "n1.g", "gauge", "level", 1.0, "m", T0, Quality.GOOD)])
    await store.close()
