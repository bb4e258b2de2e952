"""Ingest stores what is valid, drops duplicates and dead-letters everything else with a reason."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence

import pytest

from citysense import contract as c
from hub.store.base import StoredReading
from tests.hub.conftest import HubParts

T = "citysense/v1/N1/telemetry"


def _now() -> int:
    return time.time_ns() // 1_000_000


def _batch(seq: int, readings: list[dict[str, object]], node: str = "N1") -> bytes:
    return json.dumps({"v": 1, "node": node, "seq": seq, "sent_ms": _now(), "readings": readings}).encode()


def _r(metric: str = "level", value: object = 1.25, **kw: object) -> dict[str, object]:
    return {"device": "gauge", "metric": metric, "value": value, "unit": "m", "ts_ms": kw.pop("ts_ms", _now()), **kw}


async def test_valid_batch_is_stored_and_tagged_with_region_and_department(hub_parts: HubParts) -> None:
    ts = _now()
    await hub_parts.pipeline.handle(T, _batch(0, [_r(ts_ms=ts), _r("state", 1, ts_ms=ts)]))
    rows = await hub_parts.store.query_range("N1.gauge", "test_gauge", None, ts, ts + 1)
    assert {(r.metric, r.value) for r in rows} == {("level", 1.25), ("state", 1.0)}
    assert dict(rows[0].tags) == {"dept": "water", "town": "440981103"}
    assert hub_parts.latest.get("N1.gauge")["level"].value == 1.25
    assert hub_parts.registry.get_node("N1").online


async def test_redelivered_batch_is_stored_once(hub_parts: HubParts) -> None:
    payload = _batch(5, [_r()])
    await hub_parts.pipeline.handle(T, payload)
    await hub_parts.pipeline.handle(T, payload)
    assert hub_parts.stats.batches == 1
    assert hub_parts.stats.duplicates == 1


async def test_bad_quality_reading_is_stored_with_its_quality(hub_parts: HubParts) -> None:
    ts = _now()
    await hub_parts.pipeline.handle(T, _batch(1, [_r(value=None, quality="timeout", ts_ms=ts)]))
    (row,) = await hub_parts.store.query_range("N1.gauge", "test_gauge", ["level"], ts, ts + 1)
    assert row.value is None
    assert row.quality.name == "TIMEOUT"


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("citysense/v1/N1/telemetry", b"{oops", "bad_json"),
        ("citysense/v1/N1/telemetry", _batch(1, [_r()], node="N2"), "node_mismatch"),
        ("citysense/v1/N9/telemetry", _batch(1, [_r()], node="N9"), "unknown_node"),
        ("elsewhere/N1/telemetry", _batch(1, [_r()]), "bad_topic"),
        ("citysense/v1/N1/telemetry", _batch(1, [{**_r(), "device": "ghost"}]), "unknown_device"),
        ("citysense/v1/N1/telemetry", _batch(1, [_r("no_such_metric")]), "unknown_metric"),
        ("citysense/v1/N1/telemetry", _batch(1, [_r(ts_ms=_now() + 3_600_000)]), "future_timestamp"),
        ("citysense/v1/N1/telemetry", _batch(1, [_r(value=51.0)]), "out_of_range"),
        ("citysense/v1/N1/telemetry", _batch(1, [_r(value="high")]), "wrong_type"),
    ],
)
async def test_refused_input_is_dead_lettered_with_reason(
    hub_parts: HubParts, topic: str, payload: bytes, reason: str
) -> None:
    await hub_parts.pipeline.handle(topic, payload)
    letters = hub_parts.registry.list_dead_letters()
    assert [d.reason for d in letters] == [reason]
    assert hub_parts.stats.dead_letters[reason] == 1
    assert letters[0].payload  # what was refused is kept, for the operator to inspect


async def test_one_bad_reading_does_not_sink_its_batch(hub_parts: HubParts) -> None:
    ts = _now()
    await hub_parts.pipeline.handle(T, _batch(2, [_r(ts_ms=ts), {**_r(ts_ms=ts), "device": "ghost"}]))
    assert len(await hub_parts.store.query_range("N1.gauge", "test_gauge", None, ts, ts + 1)) == 1
    assert [d.reason for d in hub_parts.registry.list_dead_letters()] == ["unknown_device"]


async def test_birth_and_death_set_liveness(hub_parts: HubParts) -> None:
    status = "citysense/v1/N1/status"
    birth = c.NodeStatus(node="N1", state="online", session="s1", ts_ms=_now(), agent_version="0.1.0", config_version=3)
    await hub_parts.pipeline.handle(status, c.encode(birth))
    node = hub_parts.registry.get_node("N1")
    assert (node.online, node.agent_version, node.config_version) == (True, "0.1.0", 3)
    death = birth.model_copy(update={"state": "offline"})
    await hub_parts.pipeline.handle(status, c.encode(death))
    assert not hub_parts.registry.get_node("N1").online


async def test_observers_see_stored_readings_and_a_failing_one_does_not_stop_ingest(hub_parts: HubParts) -> None:
    seen: list[list[str]] = []

    async def broken(_: Sequence[StoredReading]) -> None:
        raise RuntimeError("observer bug")

    async def record(readings: Sequence[StoredReading]) -> None:
        seen.append([r.metric for r in readings])

    hub_parts.pipeline.on_stored += [broken, record]
    await hub_parts.pipeline.handle(T, _batch(9, [_r(), _r("state", 0)]))
    assert seen == [["level", "state"]]
    assert hub_parts.stats.readings_stored == 2


def _status(state: str, session: str) -> bytes:
    return c.encode(c.NodeStatus(node="N1", state=state, session=session, ts_ms=_now()))  # type: ignore[arg-type]


async def test_a_dead_nodes_latest_values_are_stale_until_it_is_born_again(hub_parts: HubParts) -> None:
    status = "citysense/v1/N1/status"
    await hub_parts.pipeline.handle(status, _status("online", "s1"))
    await hub_parts.pipeline.handle(T, _batch(20, [_r()]))
    assert hub_parts.latest.get("N1.gauge")["level"].quality.wire == "good"
    await hub_parts.pipeline.handle(status, _status("offline", "s1"))
    assert hub_parts.latest.get("N1.gauge")["level"].quality.wire == "stale"
    assert hub_parts.latest.get("N1.gauge")["level"].value == 1.25
    await hub_parts.pipeline.handle(status, _status("online", "s2"))
    await hub_parts.pipeline.handle(status, _status("offline", "s1"))  # the old session's will, delivered late
    assert hub_parts.latest.get("N1.gauge")["level"].quality.wire == "good"


async def test_a_silent_nodes_latest_values_are_stale(hub_parts: HubParts) -> None:
    hub_parts.latest.stale_after_ms = 0
    await hub_parts.pipeline.handle(T, _batch(21, [_r(ts_ms=_now() - 5000)]))
    await asyncio.sleep(0.01)
    assert hub_parts.latest.get("N1.gauge")["level"].quality.wire == "stale"


async def test_death_after_last_readings_in_one_group_leaves_node_offline(hub_parts: HubParts) -> None:
    """The consumer hands messages over in groups; a death must not be overtaken by earlier readings."""
    death = c.NodeStatus(node="N1", state="offline", session="s1", ts_ms=_now())
    await hub_parts.pipeline.handle_many([(T, _batch(40, [_r()])), ("citysense/v1/N1/status", c.encode(death))])
    assert not hub_parts.registry.get_node("N1").online
    assert hub_parts.stats.readings_stored == 1
