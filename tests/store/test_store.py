"""One behavioural suite for every store back end (see ``conftest.store``)."""

from __future__ import annotations

import msgspec
import pytest

from citysense.quality import Quality
from hub.store.base import Store, StoredReading
from hub.store.errors import StoreRejected
from hub.store.influx_v1 import InfluxV1Store

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
Q = Quality


def rd(
    metric: str,
    value: float | str | None,
    ts_ms: int = T0,
    quality: Quality = Q.GOOD,
    *,
    device: str = "GZ-P-0001.lamp",
    profile: str = "lamp_ctrl",
    node: str = "GZ-P-0001",
    unit: str = "",
    tags: dict[str, str] | None = None,
) -> StoredReading:
    return StoredReading(
        node=node,
        device=device,
        profile=profile,
        metric=metric,
        value=value,
        unit=unit,
        ts_ms=ts_ms,
        quality=quality,
        tags=tags or {},
    )


def as_stored(store: Store, readings: list[StoredReading]) -> list[StoredReading]:
    """What the back end gives back: InfluxDB keeps no units (the API takes them from the profile)."""
    out = [msgspec.structs.replace(r, unit="") if isinstance(store, InfluxV1Store) else r for r in readings]
    return sorted(out, key=lambda r: (r.ts_ms, r.metric))


def norm(readings: list[StoredReading]) -> list[tuple[object, ...]]:
    """Comparable form (tags as a plain dict)."""
    return [(*msgspec.structs.astuple(msgspec.structs.replace(r, tags={})), dict(r.tags)) for r in readings]


async def test_round_trip_every_value_kind_and_quality(store: Store) -> None:
    tags = {"town": "Tianhe", "dept": "lighting"}
    readings = [
        rd("power", 123.25, unit="W", tags=tags),
        rd("energy", 1e20, unit="kWh", tags=tags),
        rd("tiny", -5e-324, tags=tags),
        rd("count", 42.0, tags=tags),
        rd("on", 1.0, tags=tags),
        rd("zero", 0.0, tags=tags),
        rd("state", "dimmed 50%", tags=tags),
        rd("voltage", None, T0 + 1000, Q.COMM_FAILURE, tags=tags),
        rd("current", 99.5, T0 + 1000, Q.OUT_OF_RANGE, tags=tags),
        rd("mode", "???", T0 + 1000, Q.DECODE_ERROR, tags=tags),
    ]
    readings += [rd(f"q_{q.wire}", None, T0 + 2000, q, tags=tags) for q in Quality if q != Q.GOOD]
    await store.write(readings)
    got = await store.query_range("GZ-P-0001.lamp", "lamp_ctrl", None, T0, T0 + 3000)
    assert norm(got) == norm(as_stored(store, readings))
    assert all(isinstance(r.quality, Quality) for r in got)


async def test_rewrite_is_idempotent_and_last_write_wins(store: Store) -> None:
    batch = [rd("power", float(i), T0 + i * 1000) for i in range(10)] + [rd("state", "on", T0)]
    await store.write(batch)
    await store.write(batch)
    await store.write([rd("power", 7.5, T0 + 3000), rd("state", None, T0, Q.TIMEOUT)])
    got = await store.query_range("GZ-P-0001.lamp", "lamp_ctrl", None, T0, T0 + 60_000)
    assert len(got) == 11
    by_key = {(r.metric, r.ts_ms): r for r in got}
    assert by_key[("power", T0 + 3000)].value == 7.5
    assert by_key[("state", T0)].quality == Q.TIMEOUT
    assert by_key[("state", T0)].value is None


async def test_range_bounds_metrics_and_limit(store: Store) -> None:
    await store.write(
        [rd(m, float(i), T0 + i * 1000) for i in range(10) for m in ("a", "b", "c")]
        + [rd("a", 1.0, T0 + 5000, device="other.dev"), rd("a", 1.0, T0 + 5000, profile="other_profile")]
    )
    got = await store.query_range("GZ-P-0001.lamp", "lamp_ctrl", None, T0 + 2000, T0 + 5000)
    assert [(r.ts_ms - T0, r.metric) for r in got] == [(t, m) for t in (2000, 3000, 4000) for m in "abc"]
    got = await store.query_range("GZ-P-0001.lamp", "lamp_ctrl", ["c", "a", "zz"], T0, T0 + 2000)
    assert [(r.ts_ms - T0, r.metric) for r in got] == [(0, "a"), (0, "c"), (1000, "a"), (1000, "c")]
    got = await store.query_range("GZ-P-0001.lamp", "lamp_ctrl", None, T0, T0 + 60_000, limit=4)
    assert [(r.ts_ms - T0, r.metric) for r in got] == [(0, "a"), (0, "b"), (0, "c"), (1000, "a")]
    assert await store.query_range("GZ-P-0001.lamp", "lamp_ctrl", [], T0, T0 + 60_000) == []
    assert await store.query_range("GZ-P-0001.lamp", "lamp_ctrl", None, T0 + 10_000, T0 + 60_000) == []
    assert await store.query_range("nobody", "lamp_ctrl", None, T0, T0 + 60_000) == []
    assert await store.query_range("GZ-P-0001.lamp", "no_such_profile", None, T0, T0 + 60_000) == []


async def test_latest_across_many_devices_and_profiles(store: Store) -> None:
    profiles = ("lamp_ctrl", "weather_rs485", "level_radar")
    devices = [(f"N-{i:04d}.{p}", p) for p in profiles for i in range(250)]
    newest = []
    batch = []
    for n, (uid, p) in enumerate(devices):
        node = uid.split(".")[0]
        t = T0 + n
        # "a" reported twice (older written last), "b" only earlier; the latest "b" is a bad reading.
        batch += [
            rd("a", 2.0, t + 1000, device=uid, profile=p, node=node),
            rd("a", 1.0, t, device=uid, profile=p, node=node),
            rd("b", None, t + 500, Q.STALE, device=uid, profile=p, node=node),
        ]
        newest += [rd("a", 2.0, t + 1000, device=uid, profile=p, node=node)]
        newest += [rd("b", None, t + 500, Q.STALE, device=uid, profile=p, node=node)]
    await store.write(batch[: len(batch) // 2])
    await store.write(batch[len(batch) // 2 :])
    await store.write([rd("a", 0.5, T0 - 1, device=devices[0][0], profile=devices[0][1], node="N-0000")])

    asked = [*devices[::2], ("N-9999.none", "lamp_ctrl"), (devices[1][0], "level_radar")]
    got = await store.latest(asked)
    want = {uid for uid, _ in devices[::2]}
    assert set(got) == want
    flat = [r for uid in sorted(got) for r in got[uid].values()]
    expect = [r for r in as_stored(store, newest) if r.device in want]
    assert sorted(norm(flat)) == sorted(norm(expect))
    assert await store.latest([]) == {}


async def test_escaping_of_tags_devices_and_string_values(store: Store) -> None:
    tags = {"town": "Tian He, 天河=区", "village name": 'O\'Brien "quoted"', "dept": "水务 dept"}
    device = "dev 'x',y=z \"q\" 城"
    strings = ['say "hi"', "back\\slash\\", "a,b=c d", "line1\nline2", "城市 ünï ✓", "", "'single'"]
    readings = [
        rd(f"s{i}", s, device=device, profile="odd profile,x", node="node 1,=", tags=tags)
        for i, s in enumerate(strings)
    ]
    await store.write(readings)
    got = await store.query_range(device, "odd profile,x", None, T0, T0 + 1)
    assert norm(got) == norm(as_stored(store, readings))
    latest = await store.latest([(device, "odd profile,x")])
    assert {m: r.value for m, r in latest[device].items()} == {f"s{i}": s for i, s in enumerate(strings)}


@pytest.mark.parametrize(
    "bad",
    [
        rd("power", float("nan")),
        rd("power", float("inf"), quality=Q.OUT_OF_RANGE),
        rd("power", None),
        rd("power__q", 1.0),
    ],
    ids=["nan", "inf", "good-without-value", "double-underscore"],
)
async def test_values_no_back_end_can_keep_are_rejected(store: Store, bad: StoredReading) -> None:
    with pytest.raises(StoreRejected):
        await store.write([bad])


async def test_empty_write_is_a_no_op(store: Store) -> None:
    await store.write([])
    assert await store.query_range("GZ-P-0001.lamp", "lamp_ctrl", None, 0, 2**62) == []
