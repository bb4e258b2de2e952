"""A station gateway on a loopback port over a real SQLite store and registry, with stations registered."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from citysense.profiles import load_profiles
from citysense.profiles.loader import default_profile_dir
from citysense.runner import STOP_GRACE_S, cancel_and_wait
from hub.ingest.pipeline import Pipeline
from hub.ingest.spool import Spool
from hub.ingest.stats import IngestStats
from hub.latest import LatestCache
from hub.registry.fleet import Fleet
from hub.registry.service import Registry
from hub.stations.directory import StationDevice, StationDirectory, StationSpec
from hub.stations.profiles import default_station_profile_dir, load_station_profiles, merged
from hub.stations.protocols import PROTOCOLS
from hub.stations.server import StationGateway
from hub.stations.settings import ListenerSettings, StationsSettings
from hub.stations.wiring import build_gateway
from hub.store.base import Store
from hub.store.sqlite import SqliteStore

FLEET = {
    "regions": [
        {"code": "440981", "name": "City", "level": "city"},
        {"code": "440981103", "name": "Town", "level": "town", "parent": "440981"},
    ],
    "departments": [{"id": "environment", "name": "Environment"}, {"id": "water", "name": "Water"}],
}
PASSWORD = "123456"


@dataclass
class Gateway:
    """A running gateway and what is behind it."""

    gateway: StationGateway
    pipeline: Pipeline
    registry: Registry
    store: Store
    port: int

    async def add_monitor(self, node: str, mn: str, password: str = PASSWORD) -> None:
        """Register an HJ 212 air-quality monitor (device ``monitor``) and refresh the snapshot."""
        spec = StationSpec(
            id=node,
            protocol="hj212",
            address=mn,
            password=SecretStr(password),
            region="440981103",
            department="environment",
            devices=[StationDevice(id="monitor", profile="hj212_air_quality")],
        )
        d = StationDirectory(self.registry)
        await asyncio.to_thread(d.create, "test", spec, self.pipeline.profiles, set(PROTOCOLS))
        self.pipeline.snapshot = await asyncio.to_thread(self.registry.snapshot)
        self.gateway.invalidate()


@contextlib.asynccontextmanager
async def running_gateway(
    tmp_path: Path, store: Store, spool: Spool | None = None, listeners: list[ListenerSettings] | None = None
) -> AsyncIterator[Gateway]:
    """Start a gateway with an HJ 212 listener (or ``listeners``) on free loopback ports."""
    stations = load_station_profiles(default_station_profile_dir())
    profiles = merged(load_profiles(default_profile_dir()), stations)
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    await asyncio.to_thread(registry.migrate)
    fleet = Fleet.model_validate(FLEET)
    await asyncio.to_thread(registry.apply_fleet, fleet, {}, profiles)
    pipeline = Pipeline(
        registry=registry,
        snapshot=registry.snapshot(),
        profiles=profiles,
        store=store,
        latest=LatestCache(),
        stats=IngestStats(),
        topic_prefix="citysense/v1",
        spool=spool,
    )
    listeners = listeners or [ListenerSettings(protocol="hj212", host="127.0.0.1", port=0)]
    settings = StationsSettings(listeners=listeners)
    gateway = build_gateway(settings, pipeline, stations)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(gateway.run(), name="test:gateway")
        drain = tg.create_task(pipeline.drain(), name="test:drain")
        await gateway.ready.wait()
        try:
            yield Gateway(gateway, pipeline, registry, store, gateway.ports.get("hj212", 0))
        finally:
            await cancel_and_wait([task], grace_s=STOP_GRACE_S)
            await cancel_and_wait([drain], grace_s=STOP_GRACE_S)
    registry.engine.dispose()


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Gateway]:
    store = SqliteStore(tmp_path / "readings.db")
    await store.start()
    try:
        async with running_gateway(tmp_path, store) as g:
            await g.add_monitor("AQ-0001", "AQM0000000000001")
            yield g
    finally:
        await store.close()
