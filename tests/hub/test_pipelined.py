"""Preparing the next group while the previous one is written loses nothing and stores nothing twice."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator

import pytest

from citysense import contract as c
from tests.hub.conftest import HubParts

T = "citysense/v1/N1/telemetry"
S = "citysense/v1/N1/status"


def _batch(seq: int, ts_ms: int, value: float = 1.5) -> bytes:
    reading = {"device": "gauge", "metric": "level", "value": value, "unit": "m", "ts_ms": ts_ms}
    return json.dumps({"v": 1, "node": "N1", "seq": seq, "sent_ms": ts_ms, "readings": [reading]}).encode()


def _status(state: str, ts_ms: int) -> bytes:
    return c.encode(c.NodeStatus(node="N1", state=state, session="s1", ts_ms=ts_ms))  # type: ignore[arg-type]


@contextlib.contextmanager
def _broken_store(parts: HubParts) -> Iterator[None]:
    """A store whose writes fail with an error the durable writer does not handle."""
    store_write = parts.store.write

    async def broken(readings: object) -> None:
        raise RuntimeError("disk gone")

    parts.store.write = broken  # type: ignore[method-assign]
    try:
        yield
    finally:
        parts.store.write = store_write  # type: ignore[method-assign]


async def _levels(parts: HubParts, start: int) -> list[float | str | None]:
    rows = await parts.store.query_range("N1.gauge", "test_gauge", ["level"], start, start + 10_000)
    return [r.value for r in rows]


async def test_a_batch_in_two_overlapping_groups_is_stored_once(hub_parts: HubParts) -> None:
    p, ts = hub_parts.pipeline, time.time_ns() // 1_000_000
    first = await p.prepare([(T, _batch(1, ts))])
    # The broker redelivers it (or the agent resends it) before the first group is written.
    second = await p.prepare([(T, _batch(1, ts)), (T, _batch(2, ts + 1))])
    await p.commit(first)
    await p.commit(second)
    assert await _levels(hub_parts, ts) == [1.5, 1.5]
    assert (hub_parts.stats.batches, hub_parts.stats.duplicates) == (2, 1)
    # Committed: a third delivery is a duplicate of the ledger, not of a claim.
    await p.handle(T, _batch(1, ts))
    assert hub_parts.stats.duplicates == 2


async def test_a_group_prepared_but_never_written_is_stored_when_the_broker_resends_it(hub_parts: HubParts) -> None:
    p, ts = hub_parts.pipeline, time.time_ns() // 1_000_000
    await p.prepare([(T, _batch(7, ts, 2.5))])  # the session ends before this group is written or acked
    p.forget_inflight()
    await p.handle(T, _batch(7, ts, 2.5))  # redelivered on the next session
    assert await _levels(hub_parts, ts) == [2.5]
    assert hub_parts.stats.duplicates == 0


async def test_a_failed_commit_releases_its_claims(hub_parts: HubParts) -> None:
    p, ts = hub_parts.pipeline, time.time_ns() // 1_000_000
    prepared = await p.prepare([(T, _batch(9, ts))])
    with _broken_store(hub_parts), pytest.raises(RuntimeError):
        await p.commit(prepared)
    await p.handle(T, _batch(9, ts))
    assert await _levels(hub_parts, ts) == [1.5]


async def test_a_death_in_the_next_group_is_applied_after_the_readings_before_it(hub_parts: HubParts) -> None:
    p, ts = hub_parts.pipeline, time.time_ns() // 1_000_000
    readings = await p.prepare([(T, _batch(3, ts))])
    death = await p.prepare([(S, _status("offline", ts + 1))])
    await p.commit(readings)
    await p.commit(death)
    assert not hub_parts.registry.get_node("N1").online
    assert hub_parts.latest.node_stale("N1", ts + 2)


async def test_groups_written_out_of_order_are_finished_in_arrival_order(hub_parts: HubParts) -> None:
    # The consumer writes two groups at once: the later one's write may complete first.
    p, ts = hub_parts.pipeline, time.time_ns() // 1_000_000
    readings = await p.prepare([(T, _batch(5, ts, 3.5))])
    death = await p.prepare([(S, _status("offline", ts + 1))])
    await p.store_prepared(death)
    await p.store_prepared(readings)
    await p.finish(readings)
    await p.finish(death)
    assert await _levels(hub_parts, ts) == [3.5]
    assert not hub_parts.registry.get_node("N1").online  # the death, finished last, wins
    await p.handle(T, _batch(5, ts, 3.5))  # the ledger knows the finished batch
    assert hub_parts.stats.duplicates == 1


async def test_a_group_whose_write_failed_is_finished_without_marking_it(hub_parts: HubParts) -> None:
    p, ts = hub_parts.pipeline, time.time_ns() // 1_000_000
    prepared = await p.prepare([(T, _batch(11, ts, 4.5))])
    with _broken_store(hub_parts):
        with pytest.raises(RuntimeError):
            await p.store_prepared(prepared)
        await p.finish(prepared)  # the consumer finishes it anyway: claims released, nothing marked or published
    assert hub_parts.stats.readings_stored == 0
    await p.handle(T, _batch(11, ts, 4.5))  # the broker resends it: stored now, not a duplicate
    assert await _levels(hub_parts, ts) == [4.5]
    assert hub_parts.stats.duplicates == 0
