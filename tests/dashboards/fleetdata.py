"""A registry with the demo's regions and eight nodes, and two hours of simulated readings put through the hub.

The values come from the simulator's device models (what a field device would
serve at each past instant), wrapped in telemetry batches and handed to the
hub's ingest pipeline, which resolves tags (town, village, dept) from the
registry and writes to the store exactly as in production.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from citysense.contract import Channel, Reading, TelemetryBatch, encode, topic
from citysense.nodekinds import NodeKind, default_node_kind_dir, load_node_kinds
from citysense.profiles import ProfileSet, load_profiles
from citysense.profiles.loader import default_profile_dir
from citysense.yamlconf import load_model
from hub.demo.plan import node_ids, node_spec
from hub.demo.run import REGIONS
from hub.ingest.pipeline import Pipeline
from hub.ingest.stats import IngestStats
from hub.latest import LatestCache
from hub.registry.fleet import Fleet
from hub.registry.service import Registry
from hub.store.base import Store
from simulator.fleet import SimulatedNode

STEP_S = 60
HOURS = 2
BAD_LEVEL_DEVICE = "GZ-WG-0001.level"  # one gauge's level times out now and then: the bad-quality panel has data


@dataclass
class FleetData:
    """What was written: node ids, their kinds and towns, and the time span."""

    registry: Registry
    kinds: dict[str, NodeKind]
    profiles: ProfileSet
    nodes: dict[str, str]  # node id -> kind
    start_ms: int
    end_ms: int


def build_registry(path: Path) -> tuple[Registry, dict[str, NodeKind], ProfileSet, dict[str, str]]:
    """Register the demo's regions, departments and eight nodes (two per kind) in a fresh SQLite registry."""
    profiles = load_profiles(default_profile_dir())
    kinds = load_node_kinds(default_node_kind_dir(), set(profiles))
    base = load_model(Fleet, REGIONS)
    specs = [node_spec(node_id, site, kinds[site.kind], 1502) for node_id, site in node_ids(2)]
    registry = Registry(f"sqlite:///{path}")
    registry.migrate()
    registry.apply_fleet(Fleet(regions=base.regions, departments=base.departments, nodes=specs), kinds, profiles)
    return registry, kinds, profiles, {s.id: s.kind for s in specs}


async def fill(store: Store, registry_path: Path, *, hours: float = HOURS) -> FleetData:
    """Put ``hours`` of one-minute readings of every demo node through the ingest pipeline into ``store``."""
    registry, kinds, profiles, nodes = build_registry(registry_path)
    pipeline = Pipeline(
        registry=registry,
        snapshot=registry.snapshot(),
        profiles=profiles,
        store=store,
        latest=LatestCache(),
        stats=IngestStats(),
        topic_prefix="citysense/v1",
    )
    now = time.time()
    start = now - hours * 3600
    sims = {n: SimulatedNode(kinds[k], profiles, n, seed=i) for i, (n, k) in enumerate(sorted(nodes.items()))}
    seq = dict.fromkeys(nodes, 0)
    t = start
    step = 0
    while t <= now:
        messages = []
        for node_id, sim in sims.items():
            sim.freeze(at=t)
            ts_ms = int(t * 1000)
            readings = []
            for device, metrics in sim.snapshot().items():
                for metric, served in metrics.items():
                    value, quality = served, sim.quality(device, metric).name.lower()
                    if f"{node_id}.{device}" == BAD_LEVEL_DEVICE and metric == "water_level" and step % 7 == 3:
                        value, quality = None, "timeout"
                    readings.append(
                        Reading(
                            device=device,
                            metric=metric,
                            value=value,
                            ts_ms=ts_ms,
                            quality=quality,  # type: ignore[arg-type]
                        )
                    )
            seq[node_id] += 1
            batch = TelemetryBatch(node=node_id, seq=seq[node_id], sent_ms=ts_ms, readings=readings)
            messages.append((topic(node_id, Channel.TELEMETRY), encode(batch)))
        await pipeline.handle_many(messages)
        t += STEP_S
        step += 1
    return FleetData(registry, kinds, profiles, nodes, int(start * 1000), int(now * 1000))
