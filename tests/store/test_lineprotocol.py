"""Table-driven tests of the pure line-protocol encoder and the InfluxQL helpers."""

from __future__ import annotations

import pytest

from citysense.quality import Quality
from hub.store import influxql
from hub.store.base import StoredReading
from hub.store.errors import StoreRejected
from hub.store.lineprotocol import encode, escape_key, escape_measurement, field_value

Q = Quality


def rd(
    metric: str,
    value: float | str | None,
    ts_ms: int = 1000,
    quality: Quality = Q.GOOD,
    *,
    device: str = "d1",
    profile: str = "p",
    node: str = "n1",
    tags: dict[str, str] | None = None,
) -> StoredReading:
    return StoredReading(
        node=node,
        device=device,
        profile=profile,
        metric=metric,
        value=value,
        unit="u",
        ts_ms=ts_ms,
        quality=quality,
        tags=tags or {},
    )


ENCODE_CASES: list[tuple[str, list[StoredReading], list[str]]] = [
    ("one good float", [rd("t", 21.5)], ["p,device=d1,node=n1 t=21.5,t__q=0i 1000"]),
    (
        "bool and int become floats upstream",
        [rd("on", 1.0), rd("n", 3.0)],
        ["p,device=d1,node=n1 n=3.0,n__q=0i,on=1.0,on__q=0i 1000"],
    ),
    (
        "exponent floats",
        [rd("e", 1e20), rd("s", -5e-324)],
        ["p,device=d1,node=n1 e=1e+20,e__q=0i,s=-5e-324,s__q=0i 1000"],
    ),
    ("bad without value", [rd("t", None, quality=Q.TIMEOUT)], ["p,device=d1,node=n1 t__q=2i 1000"]),
    ("bad with value", [rd("t", 99.0, quality=Q.OUT_OF_RANGE)], ["p,device=d1,node=n1 t__bad=99.0,t__q=5i 1000"]),
    ("bad string", [rd("m", "x", quality=Q.DECODE_ERROR)], ['p,device=d1,node=n1 m__bad="x",m__q=4i 1000']),
    (
        "string escaping",
        [rd("s", 'a "b" \\c\nd, e=f')],
        ['p,device=d1,node=n1 s="a \\"b\\" \\\\c\nd, e=f",s__q=0i 1000'],
    ),
    ("empty string", [rd("s", "")], ['p,device=d1,node=n1 s="",s__q=0i 1000']),
    (
        "tags sorted, escaped, unicode kept",
        [rd("t", 1.0, tags={"town": "Tian He,天河=区", "a b": "x"})],
        ["p,a\\ b=x,device=d1,node=n1,town=Tian\\ He\\,天河\\=区 t=1.0,t__q=0i 1000"],
    ),
    (
        "empty and reserved extra tags dropped",
        [rd("t", 1.0, tags={"village": "", "device": "evil", "node": "evil", "time": "x"})],
        ["p,device=d1,node=n1 t=1.0,t__q=0i 1000"],
    ),
    (
        "backslashes and newlines in tags normalised",
        [rd("t", 1.0, tags={"town": "a\\", "v": "x\ny\\,z"})],
        ["p,device=d1,node=n1,town=a/,v=x\\ y/\\,z t=1.0,t__q=0i 1000"],
    ),
    (
        "measurement escaping",
        [rd("t", 1.0, profile="my prof,x=1")],
        ["my\\ prof\\,x=1,device=d1,node=n1 t=1.0,t__q=0i 1000"],
    ),
    (
        "same device and ts group into one line, last wins per metric",
        [rd("b", 1.0), rd("a", 2.0), rd("b", 3.0)],
        ["p,device=d1,node=n1 a=2.0,a__q=0i,b=3.0,b__q=0i 1000"],
    ),
    (
        "different ts or device make separate lines",
        [rd("a", 1.0), rd("a", 2.0, 2000), rd("a", 3.0, device="d2")],
        [
            "p,device=d1,node=n1 a=1.0,a__q=0i 1000",
            "p,device=d1,node=n1 a=2.0,a__q=0i 2000",
            "p,device=d2,node=n1 a=3.0,a__q=0i 1000",
        ],
    ),
    ("nothing", [], []),
]


@pytest.mark.parametrize(("readings", "lines"), [c[1:] for c in ENCODE_CASES], ids=[c[0] for c in ENCODE_CASES])
def test_encode(readings: list[StoredReading], lines: list[str]) -> None:
    assert encode(readings) == lines


@pytest.mark.parametrize(
    ("fn", "raw", "escaped"),
    [
        (escape_key, "plain", "plain"),
        (escape_key, "a b,c=d", "a\\ b\\,c\\=d"),
        (escape_key, 'q"uote', 'q"uote'),
        (escape_measurement, "a b,c=d", "a\\ b\\,c=d"),
        (field_value, 'x"y\\z', '"x\\"y\\\\z"'),
        (field_value, 1.0, "1.0"),
        (field_value, 0.1, "0.1"),
    ],
)
def test_escape(fn: object, raw: object, escaped: str) -> None:
    assert fn(raw) == escaped  # type: ignore[operator]


@pytest.mark.parametrize(
    "bad",
    [rd("t", float("nan")), rd("t", float("-inf"), quality=Q.OUT_OF_RANGE), rd("t", None), rd("a__b", 1.0)],
    ids=["nan", "inf", "good-without-value", "double-underscore"],
)
def test_encode_refuses(bad: StoredReading) -> None:
    with pytest.raises(StoreRejected):
        encode([bad])


@pytest.mark.parametrize(
    ("fn", "raw", "quoted"),
    [
        (influxql.ident, 'my "p"', '"my \\"p\\""'),
        (influxql.literal, "O'Brien", "'O\\'Brien'"),
        (influxql.literal, "a\\b\nc", "'a/b c'"),
    ],
)
def test_influxql_quoting(fn: object, raw: str, quoted: str) -> None:
    assert fn(raw) == quoted  # type: ignore[operator]


def test_series_readings_rebuilds_quality_and_values() -> None:
    series = {
        "name": "p",
        "tags": {"device": "d1", "node": "n1", "town": "T", "village": ""},
        "columns": ["time", "t", "t__bad", "t__q", "s", "s__q", "m__q"],
        "values": [[1000, 21, None, 0, "on", 0, 2], [2000, 21.5, 99, 5, None, None, None]],
    }
    got = influxql.series_readings(series, "p")
    assert [(r.ts_ms, r.metric, r.value, r.quality, dict(r.tags)) for r in got] == [
        (1000, "t", 21.0, Q.GOOD, {"town": "T"}),
        (1000, "s", "on", Q.GOOD, {"town": "T"}),
        (1000, "m", None, Q.TIMEOUT, {"town": "T"}),
        (2000, "t", 99.0, Q.OUT_OF_RANGE, {"town": "T"}),
    ]
