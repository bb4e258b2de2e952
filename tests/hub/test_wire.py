"""The msgspec hot-path decoder gives every payload the outcome the contract's pydantic decoder gives it."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citysense.contract import TelemetryBatch, decode
from citysense.errors import ContractError
from hub.ingest.wire import FastBatch, decode_telemetry
from tests.hub.test_fuzz import NOW, json_any, payloads

NODE = "N1"


def outcome(fn: object, payload: bytes) -> tuple[str, str]:
    """``("ok", <canonical JSON of the decoded batch>)`` or ``(reason, detail)``."""
    try:
        got = fn(payload)  # type: ignore[operator]
    except ContractError as exc:
        return exc.reason, exc.detail
    plain = msgspec.to_builtins(got) if isinstance(got, FastBatch) else got.model_dump()
    # json.dumps tells 5 from 5.0 and True from 1: the decoded types must agree too.
    return "ok", json.dumps(plain, sort_keys=True)


def agree(payload: bytes) -> None:
    fast = outcome(lambda p: decode_telemetry(p, NODE), payload)
    ref = outcome(lambda p: decode(TelemetryBatch, p, NODE), payload)
    assert fast == ref


def good(**over: object) -> dict[str, object]:
    r = {"device": "gauge", "metric": "level", "value": 1.5, "unit": "m", "ts_ms": NOW, "quality": "good"}
    r.update(over)
    return {"v": 1, "node": NODE, "seq": 7, "sent_ms": NOW, "readings": [r]}


def test_a_valid_batch_takes_the_fast_path_with_the_same_values() -> None:
    payload = json.dumps(good()).encode()
    assert isinstance(decode_telemetry(payload, NODE), FastBatch)
    agree(payload)


EDGE_CASES = [
    json.dumps(good(device="gauge\n")).encode(),  # "$" would let a trailing newline through
    json.dumps(good(metric="level\n")).encode(),
    json.dumps({**good(), "node": "N1\n"}).encode(),
    json.dumps(good(value=None)).encode(),  # good quality without a value
    json.dumps(good(value=None, quality="timeout")).encode(),
    b'{"v":1,"node":"N1","seq":1,"sent_ms":1,"readings":[{"device":"g","metric":"m","value":NaN,"ts_ms":1}]}',
    b'{"v":1,"node":"N1","seq":1,"sent_ms":1,"readings":[{"device":"g","metric":"m","value":1e400,"ts_ms":1}]}',
    json.dumps(good(value=10**30)).encode(),
    json.dumps(good(value=True)).encode(),
    json.dumps(good(value=5)).encode(),
    json.dumps(good(ts_ms=float(NOW))).encode(),  # pydantic coerces 1.0 -> 1; msgspec leaves it to pydantic
    json.dumps(good(ts_ms=str(NOW))).encode(),
    json.dumps({**good(), "seq": True}).encode(),
    json.dumps({**good(), "v": "1"}).encode(),
    json.dumps({**good(), "v": True}).encode(),
    json.dumps({**good(), "node": "N2"}).encode(),  # node mismatch
    json.dumps({**good(), "extra": 1}).encode(),
    json.dumps({**good(), "readings": []}).encode(),
    json.dumps(good(unit=None)).encode(),
    json.dumps(good(metric="a" * 65)).encode(),
    json.dumps(good(device="\u00e9")).encode(),
    b'{"v":1,"node":"N1","seq":1,"seq":2,"sent_ms":1,"readings":[{"device":"g","metric":"m","value":1,"ts_ms":1}]}',
    b'{"v":1,"node":"N1","seq":1,"sent_ms":1,"readings":[{"device":"g","metric":"m","value":"\\ud800","ts_ms":1}]}',
    b"\xff\xfe",
    b"",
    b"null",
]


# Ids by position: a payload's own text holds the current time, and pytest-xdist's workers must collect the same ids.
@pytest.mark.parametrize("payload", EDGE_CASES, ids=[f"case{i}" for i in range(len(EDGE_CASES))])
def test_both_decoders_agree_on_edge_cases(payload: bytes) -> None:
    agree(payload)


scalar = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=6)
field_values = {
    "device": st.sampled_from(["gauge", "g\n", "", "-x", "a" * 64, "a" * 65]) | scalar,
    "metric": st.sampled_from(["level", "a_b", "a__b", "A", "x\n"]) | scalar,
    "value": scalar | json_any,
    "unit": scalar,
    "ts_ms": st.sampled_from([NOW, 0, -1, 32503680000000, 32503680000001, float(NOW), 1.5]) | scalar,
    "quality": st.sampled_from(["good", "timeout", "stale", "Good"]) | scalar,
}


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid batch with some fields replaced, dropped or added."""
    readings = []
    for _ in range(draw(st.integers(0, 3))):
        r = {"device": "gauge", "metric": "level", "value": 1.5, "ts_ms": NOW}
        for key in draw(st.sets(st.sampled_from(sorted(field_values)), max_size=3)):
            r[key] = draw(field_values[key])
        for key in draw(st.sets(st.sampled_from(sorted(r)), max_size=1)):
            del r[key]
        readings.append(r)
    top: dict[str, object] = {"v": 1, "node": NODE, "seq": 3, "sent_ms": NOW, "readings": readings}
    top.update(draw(st.dictionaries(st.sampled_from(["v", "node", "seq", "sent_ms", "other"]), scalar, max_size=2)))
    return json.dumps(top, allow_nan=True).encode()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated() | payloads)
def test_both_decoders_agree_on_mutated_and_hostile_payloads(payload: bytes) -> None:
    agree(payload)
