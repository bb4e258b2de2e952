"""The v2 write API through influxdb-client, live against VictoriaMetrics (it serves ``/api/v2/write``)."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from citysense.profiles import ProfileSet
from citysense.quality import Quality
from hub.config import HubSettings, InfluxSettings
from hub.runtime import _make_store
from hub.store.base import StoredReading
from hub.store.errors import StoreRejected, StoreUnavailable
from hub.store.hub_rollups import HubRollups
from hub.store.influx_v2 import InfluxV2Store
from hub.store.sqlite_rollups import HOUR_MS, MINUTE_MS
from tests.harness.server import started
from tests.harness.victoria import VictoriaServer

T0 = 1_767_225_600_000


@pytest.fixture
def victoria() -> Iterator[VictoriaServer]:
    server = started(VictoriaServer)
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


async def test_hub_side_rollups_follow_late_data_across_a_hub_restart(victoria: VictoriaServer, tmp_path: Path) -> None:
    now = time.time_ns() // 1_000_000
    hour = (now - 3 * HOUR_MS) // HOUR_MS * HOUR_MS
    minute = hour + 30 * MINUTE_MS

    def lvl(value: float, ts_ms: int) -> StoredReading:
        return StoredReading("n1", "n1.g", "gauge", "level", value, "m", ts_ms, Quality.GOOD)

    def v2() -> InfluxV2Store:
        return InfluxV2Store(victoria.url, "citysense", "gaozhou", "tok", rollups=HubRollups(tmp_path / "rollups.db"))

    async with v2() as store:
        await store.write([lvl(1.0, minute + 5_000), lvl(3.0, minute + 25_000)])
    async with v2() as store:  # the hub restarted; an agent drains a late reading into the same minute
        await store.write([lvl(8.0, minute + 45_000)])
    samples: dict[int, list[float]] = {}
    (series,) = _export(victoria, '{__name__="gauge_level"}')
    for ts, value in zip(series["timestamps"], series["values"], strict=True):
        samples.setdefault(ts, []).append(value)
    # VictoriaMetrics ignores the bucket, so raw, m1 and h1 points share a series here; times tell them apart.
    assert samples[minute + 5_000] == [1.0] and samples[minute + 45_000] == [8.0]
    assert sorted(samples[minute]) == [2.0, 4.0]  # the 1-minute window, emitted again with the late reading
    assert sorted(samples[hour]) == [2.0, 4.0]  # its hour, likewise (VictoriaMetrics keeps both writes)
    (quality,) = _export(victoria, '{__name__="gauge_level__q"}')
    assert hour in quality["timestamps"]


async def test_a_v2_hub_config_writes_rollups_by_default(victoria: VictoriaServer, tmp_path: Path) -> None:
    influx = InfluxSettings(url=victoria.url, write_api="v2", org="gaozhou", database="citysense")
    settings = HubSettings(data_dir=tmp_path, influx=influx)
    minute = (time.time_ns() // 1_000_000 - HOUR_MS) // MINUTE_MS * MINUTE_MS
    async with _make_store(settings, ProfileSet({})) as store:
        await store.write([StoredReading("n1", "n1.g", "gauge", "level", 4.0, "m", minute + 7_000, Quality.GOOD)])
    assert (tmp_path / "rollups.db").exists()
    (series,) = _export(victoria, '{__name__="gauge_level"}')
    assert minute in series["timestamps"] and minute + 7_000 in series["timestamps"]
    no_rollups = settings.model_copy(update={"influx": influx.model_copy(update={"retention": None})})
    plain = _make_store(no_rollups, ProfileSet({}))
    assert isinstance(plain, InfluxV2Store) and plain.hub_rollups is None
    await plain.close()


async def test_a_refused_rollup_bucket_does_not_refuse_the_stored_raw_points(
    victoria: VictoriaServer, tmp_path: Path
) -> None:
    """A server without <bucket>_m1/_h1 answers 404 to those writes; the raw batch still counts as stored."""

    class NoRollupBuckets(InfluxV2Store):  # VictoriaMetrics takes any bucket: refuse the rollup ones as 2.x would
        async def _write_bucket(self, bucket: str, readings: Sequence[StoredReading]) -> None:
            if bucket != self.bucket:
                raise StoreRejected(f"bucket {bucket!r} not found", 404)
            await super()._write_bucket(bucket, readings)

    ts = time.time_ns() // 1_000_000 - HOUR_MS
    reading = StoredReading("n1", "n1.g", "gauge", "level", 4.5, "m", ts, Quality.GOOD)
    async with NoRollupBuckets(
        victoria.url, "citysense", "gaozhou", "tok", rollups=HubRollups(tmp_path / "rollups.db")
    ) as store:
        await store.write([reading])  # no StoreRejected: the pipeline would dead-letter a stored batch
        assert store.rollup_rejected == 2  # its minute and its hour
    (series,) = _export(victoria, '{__name__="gauge_level"}')
    assert series["timestamps"] == [ts] and series["values"] == [4.5]
