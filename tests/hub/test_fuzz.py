"""Hostile input never crashes ingest: each message is stored, dropped as a duplicate, or dead-lettered."""

from __future__ import annotations

import json
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.ingest.pipeline import Pipeline
from hub.registry.models import DeadLetter
from tests.hub.conftest import HubParts

GOOD_TOPIC = "citysense/v1/N1/telemetry"
NOW = time.time_ns() // 1_000_000

json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_any = st.recursive(
    json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
)
values = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.text(max_size=200)
    | st.booleans()
    | st.none()
    | json_any
)
reading = st.fixed_dictionaries(
    {
        "device": st.sampled_from(["gauge", "nope", "", "g\u00e9", "a" * 300]) | st.text(max_size=10),
        "metric": st.sampled_from(["level", "state", "x__q", "温度"]) | st.text(max_size=10),
        "value": values,
        "ts_ms": st.sampled_from([NOW, NOW + 10**9, 0, -1, 2**70]) | st.integers() | st.text(max_size=5),
    },
    optional={"quality": st.sampled_from(["good", "timeout", "bogus", ""]) | json_any, "unit": st.text(max_size=8)},
)
whole_range = st.integers(min_value=-(2**80), max_value=2**80) | st.sampled_from([2**53, 2**63 - 1, 2**63, 2**64])
batch = st.fixed_dictionaries(
    {
        "v": st.sampled_from([1, 2, "1"]),
        "node": st.sampled_from(["N1", "N2", ""]),
        "seq": st.integers(min_value=-5, max_value=2**70) | whole_range,
        "sent_ms": st.just(NOW) | st.integers(),
        "readings": st.lists(reading, max_size=5),
    },
    optional={"epoch": st.sampled_from(["e1", "", "x" * 40, "a\nb"]) | json_any, "floor": whole_range},
)
status = st.fixed_dictionaries(
    {
        "v": st.just(1),
        "node": st.just("N1"),
        "state": st.sampled_from(["online", "offline", "gone"]),
        "session": st.sampled_from(["s1", ""]) | st.text(max_size=70),
        "ts_ms": st.sampled_from([NOW, 32503680000000, 32503680000001]) | whole_range,
    },
    optional={
        "config_version": whole_range,
        "agent_version": st.text(max_size=40),
        "health": st.fixed_dictionaries(
            {"queue_depth": whole_range, "queue_oldest_s": st.floats(), "dropped": whole_range},
            optional={"last_acked_seq": whole_range, "unacked_batches": whole_range},
        ),
    },
)


def _encode(obj: object) -> bytes:
    return json.dumps(obj, allow_nan=True, default=str).encode()


payloads = (
    st.binary(max_size=300)
    | st.text(max_size=300).map(str.encode)
    | json_any.map(_encode)
    | batch.map(_encode)
    | status.map(_encode)
    | st.integers(min_value=1_100_000, max_value=1_200_000).map(lambda n: b'{"v":1,"readings":["' + b"x" * n + b'"]}')
)
topics = st.sampled_from(
    [GOOD_TOPIC, "citysense/v1/N1/status", "citysense/v1/N2/telemetry", "citysense/v1/N1/nope", "other/topic"]
) | st.text(max_size=60)


def _outcomes(p: Pipeline) -> int:
    s = p.stats
    return s.batches + s.duplicates + s.status_messages + sum(s.dead_letters.values())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(topic=topics, payload=payloads)
async def test_hostile_payloads_are_dead_lettered_never_raised(hub_parts: HubParts, topic: str, payload: bytes) -> None:
    before = _outcomes(hub_parts.pipeline)
    letters = len(_letters(hub_parts))
    await hub_parts.pipeline.handle(topic, payload)
    assert _outcomes(hub_parts.pipeline) > before
    assert hub_parts.stats.dead_letters["internal_error"] == 0  # every refusal has a reason, none is a crash
    for letter in _letters(hub_parts)[: len(_letters(hub_parts)) - letters]:
        assert letter.reason and letter.detail


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(readings=st.lists(reading, min_size=1, max_size=5), seq=st.integers(min_value=0, max_value=2**40))
async def test_every_reading_of_a_well_formed_batch_is_stored_or_dead_lettered(
    hub_parts: HubParts, readings: list[dict[str, object]], seq: int
) -> None:
    payload = _encode({"v": 1, "node": "N1", "seq": seq, "sent_ms": NOW, "readings": readings})
    stats = hub_parts.stats
    dead0, stored0, dup0 = sum(stats.dead_letters.values()), stats.readings_stored, stats.duplicates
    await hub_parts.pipeline.handle(GOOD_TOPIC, payload)
    dead, stored = sum(stats.dead_letters.values()) - dead0, stats.readings_stored - stored0
    if stats.duplicates == dup0:
        # A bad batch is one dead letter; otherwise each reading is stored or refused on its own.
        assert dead + stored in (1, len(readings)) or (dead >= 1 and stored == 0)
    for letter in _letters(hub_parts):
        assert letter.reason
        assert letter.detail


def _letters(parts: HubParts) -> list[DeadLetter]:
    return parts.registry.list_dead_letters(limit=1000)


async def test_an_integer_too_big_for_a_float_is_dead_lettered(hub_parts: HubParts) -> None:
    r = {"device": "gauge", "metric": "state", "value": 10**400, "ts_ms": NOW}
    await hub_parts.pipeline.handle(
        GOOD_TOPIC, _encode({"v": 1, "node": "N1", "seq": 1, "sent_ms": NOW, "readings": [r]})
    )
    assert hub_parts.stats.dead_letters["bad_value"] == 1
