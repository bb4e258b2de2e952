"""An alarm raised while the registry database is away is recorded once it is back, not forgotten."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import yaml

from citysense.nodekinds import load_node_kinds
from citysense.profiles import load_profiles
from citysense.quality import Quality
from citysense.runner import STOP_GRACE_S, cancel_and_wait
from hub.alerts.config import AlertConfig
from hub.alerts.engine import AlertEngine
from hub.alerts.models import Alarm
from hub.registry.fleet import Fleet
from hub.registry.service import Registry
from hub.store.base import StoredReading
from tests.faults.conftest import database_down, database_up
from tests.harness.postgres import PostgresServer
from tests.hub.conftest import FLEET, KIND, PROFILE

RULE = "alerts:\n  - {id: level_high, kind: threshold, metric: level, above: 3.0}\n"


def _open_alarms(registry: Registry) -> list[str]:
    with registry.session() as s:
        return [a.rule_id for a in s.query(Alarm).where(Alarm.is_open)]


async def test_an_alarm_raised_during_a_database_outage_is_recorded_when_it_is_back(
    tmp_path: Path, pg: PostgresServer
) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "test_gauge.yaml").write_text(PROFILE + RULE)
    (tmp_path / "kinds").mkdir()
    (tmp_path / "kinds" / "test_site.yaml").write_text(KIND)
    profiles = load_profiles(tmp_path / "profiles")
    registry = Registry(pg.url)
    try:
        await asyncio.to_thread(registry.migrate)
        kinds = load_node_kinds(tmp_path / "kinds", set(profiles))
        await asyncio.to_thread(registry.apply_fleet, Fleet.model_validate(FLEET), kinds, profiles)
        cfg = AlertConfig.model_validate(yaml.safe_load("{tick_s: 0.2, flush_s: 0.2}"))
        engine = AlertEngine(registry=registry, snapshot=registry.snapshot(), profiles=profiles, cfg=cfg)
        await engine.start()
        task = asyncio.create_task(engine.run(), name="test:alerts")
        try:
            database_down(pg)
            high = StoredReading(node="N1", device="N1.gauge", profile="test_gauge", metric="level", value=4.2,
                                 unit="m", ts_ms=int(time.time() * 1000), quality=Quality.GOOD, tags={})  # fmt: skip
            with contextlib.suppress(Exception):  # as the pipeline, which calls it once the reading is stored
                await engine.on_stored([high])
            await asyncio.sleep(1)
            assert not task.done()
            database_up(pg)
            async with asyncio.timeout(10):
                while not await asyncio.to_thread(_open_alarms, registry):  # noqa: ASYNC110 - the table is the signal
                    await asyncio.sleep(0.2)
            assert await asyncio.to_thread(_open_alarms, registry) == ["level_high"]
        finally:
            await cancel_and_wait([task], grace_s=STOP_GRACE_S)
            await asyncio.gather(task, return_exceptions=True)
    finally:
        registry.engine.dispose()
