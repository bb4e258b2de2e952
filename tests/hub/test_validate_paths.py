"""check_batch's fast path for plain numbers accepts and refuses exactly what the full checks do."""

from __future__ import annotations

import dataclasses
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.ingest.validate import MAX_FUTURE_MS, MAX_PAST_MS, Rejected, _check, check_batch
from hub.ingest.wire import FastBatch, FastReading
from hub.registry.snapshot import NodeView
from hub.store.base import StoredReading
from tests.hub.conftest import HubParts

NOW = time.time_ns() // 1_000_000

numbers = (
    st.floats(allow_nan=False)
    | st.integers(-(2**1100), 2**1100)
    | st.sampled_from([-5, 50, -5.0000001, 50.0000001, 2**1023, 2**1024 - 1, 2**1024, -(2**1024), 1e308, 0])
)
reading = st.builds(
    FastReading,
    device=st.sampled_from(["gauge", "nope"]),
    metric=st.sampled_from(["level", "state", "missing"]),
    value=numbers | st.booleans() | st.none() | st.text(max_size=3),
    unit=st.just("m"),
    ts_ms=st.sampled_from(
        [NOW, NOW + MAX_FUTURE_MS, NOW + MAX_FUTURE_MS + 1, NOW - MAX_PAST_MS, NOW - MAX_PAST_MS - 1]
    ),
    quality=st.sampled_from(["good", "timeout", "out_of_range"]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(reading, min_size=1, max_size=8))
def test_fast_path_agrees_with_the_full_checks(hub_parts: HubParts, readings: list[FastReading]) -> None:
    node = hub_parts.pipeline.snapshot.nodes["N1"]
    profiles = hub_parts.profiles
    batch = FastBatch(node="N1", seq=1, sent_ms=NOW, readings=readings)
    ok, bad = check_batch(batch, node, profiles, NOW)
    each = [_check(r, node, profiles, NOW) for r in readings]
    assert ok == [c for c in each if isinstance(c, StoredReading)]
    assert bad == [c for c in each if isinstance(c, Rejected)]


def test_a_changed_registry_view_is_used_at_once(hub_parts: HubParts) -> None:
    # The fast path keeps each node's targets; a new snapshot (device moved to another town) must not see old ones.
    node = hub_parts.pipeline.snapshot.nodes["N1"]
    batch = FastBatch(
        node="N1", seq=1, sent_ms=NOW, readings=[FastReading(device="gauge", metric="level", value=1.0, ts_ms=NOW)]
    )
    (before,), _ = check_batch(batch, node, hub_parts.profiles, NOW)
    moved = dataclasses.replace(node.devices["gauge"], uid="N1.gauge2", tags={"town": "elsewhere"})
    (after,), _ = check_batch(batch, NodeView(node.id, {"gauge": moved}), hub_parts.profiles, NOW)
    assert (before.device, after.device, dict(after.tags)) == ("N1.gauge", "N1.gauge2", {"town": "elsewhere"})
    (gone,) = check_batch(batch, NodeView(node.id, {}), hub_parts.profiles, NOW)[1]
    assert gone.reason == "unknown_device"
