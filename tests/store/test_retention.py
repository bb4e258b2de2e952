"""Retention policies and rollups exist after start, and a long range query reads rolled-up data."""

from __future__ import annotations

import time

from citysense.quality import Quality
from hub.store.base import StoredReading
from hub.store.influx_v1 import InfluxV1Store
from hub.store.retention import DAY_MS, H1, M1, RAW, RetentionSettings, choose_resolution
from tests.harness import InfluxServer

MINUTE_MS = 60_000


def rd(value: float, ts_ms: int, quality: Quality = Quality.GOOD) -> StoredReading:
    return StoredReading("n1", "n1.g", "gauge", "level", value, "m", ts_ms, quality)


async def test_policies_and_continuous_queries_are_created_at_start(influx: InfluxServer) -> None:
    settings = RetentionSettings(raw_days=30, rollup_1m_days=365, rollup_1h_days=None)
    store = InfluxV1Store(influx.url, "ret_start", rollups=settings, rollup_metrics={"gauge": ["level"]})
    await store.start()
    await store.start()  # a second start (hub restart) finds everything in place and does not fail
    try:
        (rps,) = await store._query(["SHOW RETENTION POLICIES"])
        got = {row[0]: (row[1], row[4]) for row in rps["series"][0]["values"]}
        assert got["raw"] == ("720h0m0s", True)
        assert got["m1"] == ("8760h0m0s", False)
        assert got["h1"] == ("0s", False)
        (cqs,) = await store._query(["SHOW CONTINUOUS QUERIES"])
        mine = next(s for s in cqs["series"] if s["name"] == "ret_start")
        assert sorted(row[0] for row in mine["values"]) == ["cq_h1_gauge", "cq_m1_gauge"]
        assert got["meta"] == ("0s", False)
        (table,) = await store._query(['SELECT "rp", "max_span_ms" FROM "meta"."rp_config"'])
        # Written at each start, overwritten in place: three rows, finest first, as choose_resolution cuts over.
        rows = [(row[1], row[2]) for row in table["series"][0]["values"]]
        assert rows == [(RAW, 2 * DAY_MS), (M1, 60 * DAY_MS), (H1, 100 * 365 * DAY_MS)]
    finally:
        await store.close()


async def test_a_ten_day_query_reads_one_minute_means(influx: InfluxServer) -> None:
    store = InfluxV1Store(influx.url, "ret_query", rollups=RetentionSettings(), rollup_metrics={"gauge": ["level"]})
    await store.start()
    now = time.time_ns() // 1_000_000
    t0 = (now - 10 * MINUTE_MS) // MINUTE_MS * MINUTE_MS
    try:
        # Two minutes of 10 s data: minute one 0..5, minute two 10..15 with one bad reading.
        raw = [rd(float(i), t0 + i * 10_000) for i in range(6)]
        raw += [rd(float(10 + i), t0 + MINUTE_MS + i * 10_000) for i in range(5)]
        raw.append(rd(99.0, t0 + MINUTE_MS + 50_000, Quality.TIMEOUT))
        await store.write(raw)
        await store.rollup_range(M1, t0, t0 + 2 * MINUTE_MS)
        rp, rows = await store.query_resolved("n1.g", "gauge", ["level"], now - 10 * DAY_MS, now, now)
        assert rp == M1
        assert [(r.ts_ms, r.value, r.quality) for r in rows] == [
            (t0, 2.5, Quality.GOOD),
            (t0 + MINUTE_MS, 12.0, Quality.GOOD),  # the mean of the good values only
        ]
        rp, rows = await store.query_resolved("n1.g", "gauge", ["level"], t0, now, now)
        assert rp == RAW
        assert len(rows) == 12
    finally:
        await store.close()


def test_resolution_follows_span_and_age() -> None:
    r = RetentionSettings(raw_days=30, rollup_1m_days=365)
    now = 1000 * DAY_MS
    assert choose_resolution(now - DAY_MS, now, now, r) == RAW
    assert choose_resolution(now - 40 * DAY_MS, now - 39 * DAY_MS, now, r) == M1  # raw no longer holds it
    assert choose_resolution(now - 30 * DAY_MS, now, now, r) == M1
    assert choose_resolution(now - 200 * DAY_MS, now, now, r) == H1
    assert choose_resolution(now - 400 * DAY_MS, now - 399 * DAY_MS, now, r) == H1
