"""The embedded SQLite store keeps 1-minute and 1-hour rollups with the InfluxDB rollups' semantics.

Better than continuous queries: late readings and rewrites land in the
rollups exactly once, because the windows a write touches are recomputed.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citysense.quality import Quality
from hub.store.base import StoredReading
from hub.store.retention import DAY_MS, H1, M1, RAW, RetentionSettings
from hub.store.sqlite import SqliteStore

MINUTE_MS, HOUR_MS = 60_000, 3_600_000
NOW = 1_800_000_000_000 // HOUR_MS * HOUR_MS  # a fixed "now" on an hour boundary


def rd(value: float | str | None, ts_ms: int, quality: Quality = Quality.GOOD, metric: str = "level") -> StoredReading:
    return StoredReading("n1", "n1.g", "gauge", metric, value, "m", ts_ms, quality, {"town": "440981103"})


def store_at(tmp_path: Path, now_ms: list[int], **kw: int | None) -> SqliteStore:
    return SqliteStore(tmp_path / "r.db", retention=RetentionSettings(**kw), clock=lambda: now_ms[0] / 1000)  # type: ignore[arg-type]


async def test_a_ten_day_query_reads_one_minute_means_of_good_values(tmp_path: Path) -> None:
    async with store_at(tmp_path, [NOW]) as store:
        t0 = NOW - 5 * DAY_MS
        raw = [rd(float(i), t0 + i * 10_000) for i in range(6)]  # minute one: 0..5
        raw += [rd(float(10 + i), t0 + MINUTE_MS + i * 10_000) for i in range(5)]  # minute two: 10..14
        raw.append(rd(99.0, t0 + MINUTE_MS + 50_000, Quality.TIMEOUT))  # and a bad one
        raw.append(rd(None, t0 + 2 * MINUTE_MS, Quality.COMM_FAILURE))  # minute three: nothing good
        await store.write(raw)
        rp, rows = await store.query_resolved("n1.g", "gauge", ["level"], NOW - 10 * DAY_MS, NOW, NOW)
        assert rp == M1
        assert [(r.ts_ms, r.value, r.quality) for r in rows] == [
            (t0, 2.5, Quality.GOOD),
            (t0 + MINUTE_MS, 12.0, Quality.GOOD),  # the mean of the good values only
            (t0 + 2 * MINUTE_MS, None, Quality.COMM_FAILURE),
        ]
        assert rows[0].tags == {"town": "440981103"} and rows[0].unit == "m"
        rp, rows = await store.query_resolved("n1.g", "gauge", ["level"], NOW - 90 * DAY_MS, NOW, NOW)
        assert rp == H1
        assert [(r.ts_ms, r.value) for r in rows] == [(t0 - t0 % HOUR_MS, (15 + 60) / 11)]
        rp, rows = await store.query_resolved("n1.g", "gauge", ["level"], t0, t0 + HOUR_MS, NOW)
        assert (rp, len(rows)) == (RAW, 13)  # a short span within the raw retention reads every reading


async def test_a_late_reading_and_a_rewrite_update_the_windows_once(tmp_path: Path) -> None:
    async with store_at(tmp_path, [NOW]) as store:
        t0 = NOW - 3 * DAY_MS
        await store.write([rd(10.0, t0), rd(20.0, t0 + 10_000)])
        await store.write([rd(20.0, t0 + 10_000)])  # redelivered after a crash: the same reading again
        _, rows = await store.query_resolved("n1.g", "gauge", None, NOW - 10 * DAY_MS, NOW, NOW)
        assert [r.value for r in rows] == [15.0]
        await store.write([rd(60.0, t0 + 50_000)])  # hours late, from an agent's buffer
        _, rows = await store.query_resolved("n1.g", "gauge", None, NOW - 10 * DAY_MS, NOW, NOW)
        assert [r.value for r in rows] == [30.0]
        _, hours = await store.query_resolved("n1.g", "gauge", None, NOW - 90 * DAY_MS, NOW, NOW)
        assert [r.value for r in hours] == [30.0]


async def test_text_points_are_not_rolled_up(tmp_path: Path) -> None:
    async with store_at(tmp_path, [NOW]) as store:
        t0 = NOW - 3 * DAY_MS
        await store.write([rd("auto", t0, metric="mode"), rd(1.0, t0)])
        _, rows = await store.query_resolved("n1.g", "gauge", None, NOW - 10 * DAY_MS, NOW, NOW)
        assert [(r.metric, r.value) for r in rows] == [("level", 1.0)]


async def test_retention_purges_raw_rows_and_keeps_rollups(tmp_path: Path) -> None:
    now = [NOW]
    async with store_at(tmp_path, now, raw_days=30, rollup_1m_days=365) as store:
        old = NOW - 20 * DAY_MS
        await store.write([rd(1.0, old), rd(3.0, old + 1000)])
        now[0] = NOW + 15 * DAY_MS  # the old readings are now 35 days old
        await store.write([rd(5.0, now[0] - 1000)])  # a write triggers the (hourly) purge
        assert await store.query_range("n1.g", "gauge", None, old - DAY_MS, old + DAY_MS) == []
        rp, rows = await store.query_resolved("n1.g", "gauge", None, old - HOUR_MS, old + HOUR_MS, now[0])
        assert rp == M1  # raw no longer holds it
        assert [(r.ts_ms, r.value) for r in rows] == [(old - old % MINUTE_MS, 2.0)]
        # A reading for that minute arriving now cannot be averaged with purged rows: the minute is left as it was.
        await store.write([rd(100.0, old + 2000)])
        _, rows = await store.query_resolved("n1.g", "gauge", None, old - HOUR_MS, old + HOUR_MS, now[0])
        assert [r.value for r in rows] == [2.0]


async def test_without_retention_the_store_reads_raw(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "r.db") as store:
        await store.write([rd(1.0, NOW - 5 * DAY_MS)])
        rp, rows = await store.query_resolved("n1.g", "gauge", None, NOW - 10 * DAY_MS, NOW, NOW)
        assert (rp, [r.value for r in rows]) == (RAW, [1.0])


readings = st.lists(
    st.tuples(
        st.integers(0, 3 * HOUR_MS - 1),
        st.sampled_from(["level", "flow"]),
        st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False), st.integers(-1000, 1000)),
        st.sampled_from([Quality.GOOD, Quality.GOOD, Quality.TIMEOUT, Quality.STALE]),
    ),
    max_size=60,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(readings, min_size=1, max_size=4))
def test_rollups_equal_a_direct_computation_over_the_raw_rows(tmp_path: Path, batches: list) -> None:  # type: ignore[type-arg]
    asyncio.run(_check_against_raw(tmp_path, batches))


async def _check_against_raw(tmp_path: Path, batches: list) -> None:  # type: ignore[type-arg]
    base = NOW - 5 * DAY_MS
    path = tmp_path / f"p{abs(hash(repr(batches)))}.db"
    path.unlink(missing_ok=True)
    async with SqliteStore(path, retention=RetentionSettings(), clock=lambda: NOW / 1000) as store:
        final: dict[tuple[int, str], tuple[float | None, Quality]] = {}
        for batch in batches:  # several writes, out of order, with rewrites of the same (ts, metric)
            rows = []
            for off, metric, value, q in batch:
                v = None if value is None else float(value)
                if v is None and q is Quality.GOOD:
                    v = 0.0  # a good reading always carries a value
                rows.append(rd(v, base + off, q, metric))
                final[(base + off, metric)] = (v, q)
            await store.write(rows)
        for rp, width in ((M1, MINUTE_MS), (H1, HOUR_MS)):
            want: dict[tuple[int, str], list] = defaultdict(list)  # type: ignore[type-arg]
            for (ts, metric), vq in final.items():
                want[(ts - ts % width, metric)].append(vq)
            span = (10 * DAY_MS) if rp == M1 else (90 * DAY_MS)
            got_rp, got = await store.query_resolved("n1.g", "gauge", None, NOW - span, NOW, NOW, limit=100_000)
            assert got_rp == rp
            expected = {}
            for key, vqs in want.items():
                good = [v for v, q in vqs if q is Quality.GOOD and v is not None]
                expected[key] = (sum(good) / len(good) if good else None, min(q for _, q in vqs))
            actual = {(r.ts_ms, r.metric): (r.value, r.quality) for r in got}
            assert actual.keys() == expected.keys()
            for key, (value, quality) in expected.items():
                assert actual[key][1] == quality
                if value is None:
                    assert actual[key][0] is None
                else:
                    assert actual[key][0] is not None and abs(actual[key][0] - value) <= 1e-6 * max(1.0, abs(value))
