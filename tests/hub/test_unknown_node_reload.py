"""A node another hub process registered is stored here too, not dead-lettered as unknown (a shared registry)."""

from __future__ import annotations

import time
from pathlib import Path

from citysense.contract import Channel, Reading, TelemetryBatch, encode, topic
from citysense.nodekinds import load_node_kinds
from hub.ingest.pipeline import Pipeline
from hub.ingest.stale import UnknownNodeGuard
from hub.ingest.stats import IngestStats
from hub.latest import LatestCache
from hub.registry.fleet import Fleet
from hub.store.sqlite import SqliteStore
from tests.hub.conftest import FLEET, build_registry

T0 = int(time.time() * 1000) - 60_000


def _batch(node: str, seq: int) -> bytes:
    readings = [Reading(device="gauge", metric="level", value=1.5, unit="m", ts_ms=T0 + seq)]
    return encode(TelemetryBatch(node=node, seq=seq, sent_ms=T0 + seq, readings=readings))


async def test_a_node_registered_by_another_hub_is_stored_and_an_unknown_one_still_refused(tmp_path: Path) -> None:
    profiles, registry = build_registry(tmp_path, FLEET)
    store = SqliteStore(tmp_path / "readings.db")
    await store.start()
    pipeline = Pipeline(
        registry=registry, snapshot=registry.snapshot(), profiles=profiles, store=store, latest=LatestCache(),
        stats=IngestStats(), topic_prefix="citysense/v1",
    )  # fmt: skip

    async def reload() -> None:
        pipeline.snapshot = registry.snapshot()

    pipeline.unknown_guard = guard = UnknownNodeGuard(reload, min_interval_s=60)
    # Another hub process (a worker whose API a technician used) registers N2 in the shared registry.
    kinds = load_node_kinds(tmp_path / "kinds", set(profiles))
    nodes = [*FLEET["nodes"], {**FLEET["nodes"][0], "id": "N2"}]  # type: ignore[index, misc]
    registry.apply_fleet(Fleet.model_validate({**FLEET, "nodes": nodes}), kinds, profiles)

    await pipeline.handle(topic("N2", Channel.TELEMETRY), _batch("N2", 0))
    rows = await store.query_range("N2.gauge", "test_gauge", None, T0 - 1, T0 + 10)
    assert [r.value for r in rows] == [1.5]
    assert registry.list_dead_letters() == []

    for seq in range(3):  # a node nobody registered: refused as before, and one reload per interval at most
        await pipeline.handle(topic("N9", Channel.TELEMETRY), _batch("N9", seq))
    assert [d.reason for d in registry.list_dead_letters()] == ["unknown_node"] * 3
    assert guard.reloads == 1
    await store.close()
    registry.engine.dispose()
