"""PostgreSQL away for 10 s under a running county hub with alerts and a real agent.

The hub must keep running, answer API requests 503 (not 500), keep serving
``/metrics``, log the outage once rather than once per retry, and, once the
database is back, hold every reading the agent recorded exactly once and
raise the alarm those readings crossed.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest
import yaml

import tests.agent.support as site
from edge_agent.app import Agent
from edge_agent.config import load_agent_config
from hub.alerts.models import Alarm
from hub.runtime import RunningHub
from tests.agent.support import (
    agent_config,
    assert_stored_once,
    counter_server,
    hub_has_all,
    hub_on,
    hub_readings,
    recorded_counts,
    recording,
    wait_for,
)
from tests.faults.conftest import database_down, database_up
from tests.harness.mosquitto import MosquittoServer
from tests.harness.postgres import PostgresServer
from tests.harness.tasks import running

OUTAGE_S = 10
DEVICES = ("c1", "c2")
RULE = "alerts:\n  - {id: count_high, kind: threshold, metric: count, above: %d}\n"


async def _get(hub: RunningHub, path: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(hub.api_url + path, headers={"Authorization": f"Bearer {hub.admin_token}"})


def _alarms(hub: RunningHub) -> list[tuple[str, str]]:
    with hub.services.registry.session() as s:
        return sorted((a.device, a.rule_id) for a in s.query(Alarm))


async def test_a_database_outage_stops_nothing_and_loses_nothing(
    tmp_path: Path, mosquitto_fresh: MosquittoServer, pg: PostgresServer, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # The counters count up once a second: the rule is crossed while the database is away.
    monkeypatch.setattr(site, "COUNTER_PROFILE", site.COUNTER_PROFILE + RULE % (3 + OUTAGE_S // 2))
    alerts = tmp_path / "alerts.yaml"
    alerts.write_text(yaml.safe_dump({"tick_s": 0.5, "flush_s": 0.5}))
    url = mosquitto_fresh.url
    async with counter_server() as modbus, hub_on(tmp_path, url, registry_url=pg.url, alerts_file=alerts) as hub:
        config, profiles = load_agent_config(agent_config(tmp_path, url, modbus.port))
        agent = Agent(config, profiles, tmp_path / "state")
        rec = recording(agent)
        async with running(agent.run(), "test:agent"):
            await wait_for(lambda: _stored(hub, 2), 15, "first readings at the hub")

            caplog.clear()
            with caplog.at_level(logging.INFO):
                database_down(pg)
                nodes = await _get(hub, "/api/v1/nodes")
                assert nodes.status_code == 503, nodes.text  # it was a 500 with a traceback
                assert nodes.headers["retry-after"]
                health = await _get(hub, "/api/v1/health")
                assert health.status_code == 503
                assert any("registry database unavailable" in p for p in health.json()["problems"])
                metrics = await _get(hub, "/metrics")
                assert metrics.status_code == 200  # the scrape an operator needs most during an outage
                assert "citysense_registry_up 0.0" in metrics.text
                await asyncio.sleep(OUTAGE_S)
                database_up(pg)
                await wait_for(lambda: hub_has_all(hub, rec), 30, "every recorded reading at the hub")
                sent = recorded_counts(rec, DEVICES)

            ingest = [r for r in caplog.records if r.name == "hub.ingest.consumer" and r.levelno >= logging.WARNING]
            assert len(ingest) == 1, [r.getMessage() for r in ingest]  # once per outage, not once per retry
            assert not [r for r in caplog.records if "dead letter" in r.getMessage()]  # nothing valid refused
            await wait_for(lambda: _raised(hub), 10, "the alarm crossed during the outage")
            assert agent.buffer.dropped == 0

        await assert_stored_once(hub, sent)


async def _stored(hub: RunningHub, n: int) -> bool:
    return len(await hub_readings(hub, "c1")) >= n


async def _raised(hub: RunningHub) -> bool:
    return await asyncio.to_thread(_alarms, hub) == [("N1.c1", "count_high"), ("N1.c2", "count_high")]
