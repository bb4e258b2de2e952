"""The poller's precompiled block decoder gives exactly what the reference transform gives.

Every type x byte/word order of the decode matrix, with scale, offset, range,
sentinels and enums, is laid into one register block by the independent
reference encoder of ``test_decode_matrix`` and decoded both ways.
"""

from __future__ import annotations

import pytest

from citysense.profiles.model import Profile
from citysense.profiles.transform import to_value
from citysense.quality import Quality
from edge_agent.drivers.modbus.decoder import PlanDecoder, is_fast, trusted_reading
from edge_agent.drivers.modbus.planner import plan_profile
from edge_agent.errors import ModbusError
from tests.agent.test_decode_matrix import ORDERS, SAMPLES, reference_registers

EXTRAS = [{}, {"scale": 0.1, "offset": -40}, {"range": [0, 10]}, {"sentinels": [0, 65535, 4294967295]}]


def _profile(order: str) -> tuple[Profile, list[int]]:
    points, words = [], []
    byte_order, word_order = ORDERS[order]
    for dtype, values in SAMPLES.items():
        for value in values:
            for n, extra in enumerate(EXTRAS):
                if dtype.startswith("float") and "sentinels" in extra:
                    continue
                regs = reference_registers(value, dtype, order)
                points.append({"metric": f"{dtype}_{len(points)}_{n}", "table": "holding", "address": len(words),
                               "type": dtype, "byte_order": byte_order, "word_order": word_order, **extra})  # fmt: skip
                words += regs
                words += [0xABCD]  # a hole between points
    points.append({"metric": "state", "table": "holding", "address": len(words), "type": "uint16",
                   "enum": {1: "on", 2: "off"}})  # fmt: skip
    words.append(3)  # an undefined state
    data = {"id": "p", "model": "m", "manufacturer": "m", "source": "test", "category": "test", "points": points,
            "defaults": {"max_registers_per_request": 125, "max_gap_registers": 2}}  # fmt: skip
    return Profile.model_validate(data), words


@pytest.mark.parametrize("order", list(ORDERS))
def test_block_decoder_agrees_with_the_transform(order: str) -> None:
    prof, words = _profile(order)
    assert all(is_fast(p) for p in prof.points)
    requests = plan_profile(prof)
    results = [words[r.start : r.start + r.count] for r in requests]
    got = {r.metric: r for r in PlanDecoder("d", prof, requests).decode(results, [7] * len(requests))}
    assert set(got) == {p.metric for p in prof.points}
    for p in prof.points:
        value, quality = to_value(prof, p, words[p.address : p.address + p.register_count])
        r = got[p.metric]
        assert (r.value, r.quality, r.unit, r.ts_ms) == (value, quality.wire, p.unit, 7), p.metric
        assert type(r.value) is type(value), p.metric


def test_a_failed_request_gives_its_quality_to_every_point() -> None:
    prof, words = _profile("ABCD")
    requests = plan_profile(prof)
    results: list[list[int] | ModbusError] = [words[r.start : r.start + r.count] for r in requests]
    results[0] = ModbusError(Quality.TIMEOUT, "no answer")
    out = PlanDecoder("d", prof, requests).decode(results, [1] * len(requests))
    first = {p.metric for p in requests[0].points}
    assert {r.metric for r in out if r.quality == "timeout" and r.value is None} == first


def test_trusted_readings_are_the_readings_validation_builds() -> None:
    from citysense.contract import Reading, encode

    kw = {"device": "d1", "metric": "u", "value": 1.5, "unit": "V", "ts_ms": 1_700_000_000_000, "quality": "good"}
    fast = trusted_reading(**kw)  # type: ignore[arg-type]
    assert fast == Reading(**kw) and encode(fast) == encode(Reading(**kw))  # type: ignore[arg-type]
