"""The station tables on PostgreSQL (shared by hub workers): registry, liveness, the report ledger."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from citysense.profiles import load_profiles
from citysense.profiles.loader import default_profile_dir
from hub.registry.fleet import Fleet
from hub.registry.service import Registry
from hub.stations.directory import StationDevice, StationDirectory, StationSpec
from hub.stations.ledger import ReportLedger
from tests.harness.postgres import PostgresServer
from tests.harness.server import started
from tests.stations.conftest import FLEET


@pytest.fixture
def pg_registry() -> Iterator[Registry]:
    server = started(PostgresServer)
    registry = Registry(server.url)
    try:
        registry.migrate()
        registry.apply_fleet(Fleet.model_validate(FLEET), {}, load_profiles(default_profile_dir()))
        yield registry
    finally:
        registry.engine.dispose()
        server.close()


async def test_stations_liveness_and_ledger_on_postgresql(pg_registry: Registry) -> None:
    d = StationDirectory(pg_registry)
    dev = StationDevice(id="met", profile="weather_6in1_rs485", unit_id=1)
    specs = [StationSpec(id=f"D-{i}", protocol="dtu", address=f"86600000000000{i}", password=SecretStr(""),
                         region="440981103", department="water", devices=[dev]) for i in range(3)]  # fmt: skip
    d.create_many("test", specs, load_profiles(default_profile_dir()), {"dtu"})
    infos = d.infos()
    assert sorted(i.node for i in infos.values()) == ["D-0", "D-1", "D-2"]
    assert infos[("dtu", "866000000000001")].devices[0].profile == "weather_6in1_rs485"
    d.mark_online(["D-0", "D-1"], 1_000)
    d.mark_online(["D-0"], 500)  # an older sighting never moves last_seen back
    assert pg_registry.get_node("D-0").last_seen_ms == 1_000 and pg_registry.get_node("D-1").online
    ledger = ReportLedger(pg_registry, per_node=2)
    keys = [f"2011:2026120212{m:02d}00:1" for m in range(4)]
    await ledger.mark_many([("D-0", k) for k in keys])
    await ledger.mark_many([("D-0", keys[0])])  # marked twice: still one row
    restarted = ReportLedger(pg_registry, per_node=2)
    assert all(await asyncio.gather(*(restarted.seen("D-0", k) for k in keys)))
    assert not await restarted.seen("D-0", "2011:20261202130000:1")
