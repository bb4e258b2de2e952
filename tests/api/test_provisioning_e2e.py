"""Provisioning on real components: claim -> credentials in Mosquitto -> agent connects -> readings -> commissioned."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest

from citysense.agentconfig import AgentConfig
from citysense.nodekinds import default_node_kind_dir, load_node_kinds
from citysense.profiles import load_profiles
from citysense.profiles.loader import default_profile_dir
from citysense.runner import STOP_GRACE_S, cancel_and_wait
from edge_agent.app import Agent
from hub.config import BrokerAdminSettings, HubSettings
from hub.demo.run import REGIONS
from hub.runtime import RunningHub, running_hub
from simulator.fleet import SimulatedNode
from tests.harness.mosquitto import DYNSEC_ADMIN, MosquittoServer

VILLAGE_TOWN = "440981103"


async def test_claim_to_commissioned(tmp_path: Path, broker: MosquittoServer) -> None:
    profiles = load_profiles(default_profile_dir())
    kinds = load_node_kinds(default_node_kind_dir(), set(profiles))
    settings = HubSettings(
        data_dir=tmp_path / "hub",
        mqtt_url=broker.url,
        mqtt_password="hub-secret",  # type: ignore[arg-type]
        broker_admin=BrokerAdminSettings(username=DYNSEC_ADMIN[0], password=DYNSEC_ADMIN[1]),  # type: ignore[arg-type]
        fleet_file=REGIONS,
        api_port=0,
    )
    sim = SimulatedNode(kinds["water_gauge"], profiles, "GZ-WG-0101", seed=3)
    await sim.start()
    try:
        async with running_hub(settings) as hub, httpx.AsyncClient(base_url=hub.api_url, timeout=20) as api:
            admin = {"Authorization": f"Bearer {hub.admin_token}"}
            # 1. The administrator creates the placeholder and a technician account for town 103.
            r = await api.post(
                "/api/v1/nodes", json={"id": "GZ-WG-0101", "kind": "water_gauge", "region": VILLAGE_TOWN}, headers=admin
            )
            assert r.status_code == 201, r.text
            code = r.json()["claim_code"]
            user = {"role": "technician", "region_scope": VILLAGE_TOWN, "password": "tech-pw-2026"}
            assert (await api.put("/api/v1/users/li.wei", json=user, headers=admin)).status_code == 200
            login = await api.post("/api/v1/auth/login", json={"username": "li.wei", "password": "tech-pw-2026"})
            tech = {"Authorization": f"Bearer {login.json()['token']}"}

            # 2. On site: claim with the code, the location and the station's bus address.
            claim = {
                "claim_code": code.lower().replace("-", ""),  # typed sloppily
                "latitude": 21.93,
                "longitude": 110.85,
                "site": "WG-0101",
                "endpoints": {"rs485": {"host": "127.0.0.1", "port": sim.port}},
            }
            r = await api.post("/api/v1/provisioning/claim", json=claim, headers=tech)
            assert r.status_code == 200, r.text
            result = r.json()
            assert result["node"]["status"] == "claimed"
            again = await api.post("/api/v1/provisioning/claim", json=claim, headers=tech)
            assert again.status_code == 404  # single use

            # 3. The downloaded configuration is all the agent needs: it connects with the new credentials.
            config = AgentConfig.model_validate(result["agent_config"])
            assert config.hub.username == "GZ-WG-0101"
            with contextlib.suppress(aiomqtt.MqttError):  # a wrong password is refused by the broker
                async with aiomqtt.Client(broker.host, broker.port, username="GZ-WG-0101", password="guess"):
                    pytest.fail("the broker accepted a wrong password")
            agent = Agent(config, profiles, tmp_path / "agent")
            async with asyncio.TaskGroup() as tg:
                task = tg.create_task(agent.run(), name="test:agent")
                try:
                    await hub.services.latest.wait_until(lambda c: bool(c.get("GZ-WG-0101.level")), 30)
                    node = (await api.get("/api/v1/nodes/GZ-WG-0101", headers=tech)).json()
                    assert node["status"] == "commissioned"
                    assert node["online"] and node["site"] == "WG-0101"
                finally:
                    await cancel_and_wait([task], grace_s=STOP_GRACE_S)
            audit = (await api.get("/api/v1/audit?target_id=GZ-WG-0101", headers=admin)).json()
            assert [(e["actor"], e["action"]) for e in audit] == [("admin", "node.create"), ("li.wei", "node.claim")]
    finally:
        await sim.stop()


@dataclass
class Site:
    """A claimed node with its agent running against a simulated device, behind a dynsec Mosquitto."""

    hub: RunningHub
    api: httpx.AsyncClient
    admin: dict[str, str]
    sim: SimulatedNode
    agent: Agent


@contextlib.asynccontextmanager
async def _site(tmp_path: Path, broker: MosquittoServer, kind: str, node_id: str) -> AsyncIterator[Site]:
    profiles = load_profiles(default_profile_dir())
    kinds = load_node_kinds(default_node_kind_dir(), set(profiles))
    settings = HubSettings(
        data_dir=tmp_path / "hub",
        mqtt_url=broker.url,
        mqtt_password="hub-secret",  # type: ignore[arg-type]
        broker_admin=BrokerAdminSettings(username=DYNSEC_ADMIN[0], password=DYNSEC_ADMIN[1]),  # type: ignore[arg-type]
        fleet_file=REGIONS,
        api_port=0,
    )
    sim = SimulatedNode(kinds[kind], profiles, node_id, seed=5)
    await sim.start()
    sim.freeze()
    try:
        async with running_hub(settings) as hub, httpx.AsyncClient(base_url=hub.api_url, timeout=30) as api:
            admin = {"Authorization": f"Bearer {hub.admin_token}"}
            body = {"id": node_id, "kind": kind, "region": VILLAGE_TOWN}
            code = (await api.post("/api/v1/nodes", json=body, headers=admin)).json()["claim_code"]
            claim: dict[str, Any] = {
                "claim_code": code, "latitude": 21.9, "longitude": 110.8, "site": "S-1",
                "endpoints": {c.id: {"host": "127.0.0.1", "port": sim.port} for c in kinds[kind].connections},
            }  # fmt: skip
            result = (await api.post("/api/v1/provisioning/claim", json=claim, headers=admin)).json()
            agent = Agent(AgentConfig.model_validate(result["agent_config"]), profiles, tmp_path / "agent")
            async with asyncio.TaskGroup() as tg:
                task = tg.create_task(agent.run(), name="test:agent")
                try:
                    first = next(iter(kinds[kind].devices)).id
                    await hub.services.latest.wait_until(lambda c: bool(c.get(f"{node_id}.{first}")), 30)
                    yield Site(hub, api, admin, sim, agent)
                finally:
                    await cancel_and_wait([task], grace_s=STOP_GRACE_S)
    finally:
        await sim.stop()


async def test_command_round_trip_changes_the_register_and_is_audited(tmp_path: Path, broker: MosquittoServer) -> None:
    async with _site(tmp_path, broker, "smart_pole", "GZ-SP-0101") as site:
        url = "/api/v1/nodes/GZ-SP-0101/commands"
        dim = {"action": "write", "device": "lamp", "metric": "dim_level", "value": 40}
        r = await site.api.post(url, json=dim, headers=site.admin)
        assert r.status_code == 200, r.text
        assert r.json()["ok"] is True
        assert site.sim.snapshot()["lamp"]["dim_level"] == 40
        # Out of range: refused by the hub, nothing reaches the device.
        r = await site.api.post(url, json={**dim, "value": 140}, headers=site.admin)
        assert r.status_code == 400 and "outside the valid range" in r.text
        assert site.sim.snapshot()["lamp"]["dim_level"] == 40
        # The agent's probe, run remotely, reads the new value back.
        probe = (await site.api.post(url, json={"action": "probe"}, headers=site.admin)).json()
        assert probe["ok"] and probe["result"]["lamp"]["dim_level"] == [40, "good"]
        audit = (await site.api.get("/api/v1/audit?target_id=GZ-SP-0101", headers=site.admin)).json()
        writes = [e["after"] for e in audit if e["action"] == "command.write"]
        assert writes == [{**dim, "id": writes[0]["id"], "ok": True, "error": None}]


async def test_pushed_config_is_applied_and_drift_shown(tmp_path: Path, broker: MosquittoServer) -> None:
    async with _site(tmp_path, broker, "water_gauge", "GZ-WG-0102") as site:
        drift = "/api/v1/nodes?config_drift=true"
        assert (await site.api.get(drift, headers=site.admin)).json() == []  # claimed on the desired version
        r = await site.api.post("/api/v1/nodes/GZ-WG-0102/config", headers=site.admin)
        assert r.status_code == 200, r.text
        version = r.json()["desired_config_version"]
        assert version == 2
        # The agent reports over MQTT and the hub records it: the API is what a user watches, so poll it (bounded).
        for _ in range(100):
            if not (await site.api.get(drift, headers=site.admin)).json():
                break
            await asyncio.sleep(0.2)
        node = (await site.api.get("/api/v1/nodes/GZ-WG-0102", headers=site.admin)).json()
        assert node["config_version"] == node["desired_config_version"] == version
        assert site.agent.config.config_version == version
