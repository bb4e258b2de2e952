"""A tiny registry (one node kind, one profile) for hub tests that need no real fleet."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from citysense.nodekinds import load_node_kinds
from citysense.profiles import ProfileSet, load_profiles
from hub.ingest.fastpublish import Incoming
from hub.ingest.pipeline import Pipeline
from hub.ingest.spool import Spool
from hub.ingest.stats import IngestStats
from hub.latest import LatestCache
from hub.registry.fleet import Fleet
from hub.registry.service import Registry
from hub.store.base import Store
from hub.store.sqlite import SqliteStore

PROFILE = """
id: test_gauge
model: Test gauge
manufacturer: Test
source: written for the tests
category: water
points:
  - {metric: level, table: holding, address: 0, type: int16, scale: 0.01, unit: m, range: [-5, 50]}
  - {metric: state, table: holding, address: 1, type: uint16, enum: {0: ok, 1: fault}}
"""
KIND = """
kind: test_site
name: Test site
department: water
connections: [{id: bus, type: modbus_tcp}]
devices: [{id: gauge, profile: test_gauge, connection: bus, unit_id: 1}]
"""

FLEET = {
    "regions": [
        {"code": "440981", "name": "City", "level": "city"},
        {"code": "440981103", "name": "Town", "level": "town", "parent": "440981"},
    ],
    "departments": [{"id": "water", "name": "Water"}],
    "nodes": [{"id": "N1", "kind": "test_site", "region": "440981103", "endpoints": {"bus": {"host": "h", "port": 1}}}],
}


@dataclass
class HubParts:
    """A pipeline over SQLite with a registry holding node N1 (device N1.gauge)."""

    pipeline: Pipeline
    registry: Registry
    store: Store
    latest: LatestCache
    stats: IngestStats
    profiles: ProfileSet


def build_registry(tmp_path: Path, fleet: dict[str, Any]) -> tuple[ProfileSet, Registry]:
    """Write the test profile and kind under ``tmp_path`` and register ``fleet`` in ``registry.db`` there."""
    (tmp_path / "profiles").mkdir(parents=True, exist_ok=True)
    (tmp_path / "profiles" / "test_gauge.yaml").write_text(PROFILE)
    (tmp_path / "kinds").mkdir(exist_ok=True)
    (tmp_path / "kinds" / "test_site.yaml").write_text(KIND)
    profiles = load_profiles(tmp_path / "profiles")
    kinds = load_node_kinds(tmp_path / "kinds", set(profiles))
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    registry.create_all()
    registry.apply_fleet(Fleet.model_validate(fleet), kinds, profiles)
    return profiles, registry


def build_parts(tmp_path: Path, store: Store, spool: Spool | None = None) -> HubParts:
    """Write the test profile and kind, register node N1, and build a pipeline over ``store`` (started)."""
    profiles, registry = build_registry(tmp_path, FLEET)
    latest, stats = LatestCache(), IngestStats()
    pipeline = Pipeline(
        registry=registry,
        snapshot=registry.snapshot(),
        profiles=profiles,
        store=store,
        latest=latest,
        stats=stats,
        topic_prefix="citysense/v1",
        spool=spool,
    )
    return HubParts(pipeline, registry, store, latest, stats, profiles)


@pytest.fixture
async def hub_parts(tmp_path: Path) -> AsyncIterator[HubParts]:
    store = SqliteStore(tmp_path / "readings.db")
    await store.start()
    parts = build_parts(tmp_path, store)
    try:
        yield parts
    finally:
        await store.close()
        parts.registry.engine.dispose()


async def take(client: aiomqtt.Client, n: int) -> list[Incoming | aiomqtt.Message]:
    """The next ``n`` messages of a client's stream (within 10 s)."""
    out: list[Incoming | aiomqtt.Message] = []
    async with asyncio.timeout(10):
        async for m in client.messages:
            out.append(m)
            if len(out) == n:
                return out
    raise AssertionError("message stream ended")
