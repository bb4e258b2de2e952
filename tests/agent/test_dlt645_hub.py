"""A DL/T 645 meter from node kind to stored readings: the hub registers it, renders it into the agent's
configuration (with the site's nameplate address), and validates and stores what the agent reads."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import yaml

from citysense.agentconfig import HubLink
from citysense.nodekinds import load_node_kinds
from citysense.profiles.loader import default_profile_dir, load_profiles
from edge_agent.app import Agent
from hub.config import HubSettings
from hub.registry.render import render_agent_config
from hub.runtime import running_hub
from simulator.dlt645 import MeterBus, SimMeter
from tests.agent.support import wait_for
from tests.agent.test_dlt645_bus import THREE, expected, serving
from tests.harness import MosquittoServer, free_port
from tests.harness.tasks import running

ADDRESS = "202405200001"
KIND = {
    "kind": "lighting_cabinet",
    "name": "Street-lighting cabinet (路灯配电箱)",
    "department": "urban_management",
    "connections": [{"id": "cab485", "type": "dlt645_tcp", "description": "RS-485 behind a serial server"}],
    "meters": [{"id": "meter", "profile": THREE.id, "connection": "cab485", "poll_interval_s": 1}],
}


def _site(root: Path, port: int) -> tuple[Path, Path, Path]:
    (root / "profiles").mkdir()
    shutil.copy(default_profile_dir() / f"{THREE.id}.yaml", root / "profiles")
    (root / "kinds").mkdir()
    (root / "kinds" / "lighting_cabinet.yaml").write_text(yaml.safe_dump(KIND, allow_unicode=True))
    fleet = {
        "regions": [
            {"code": "440981", "name": "City", "level": "city"},
            {"code": "440981103", "name": "Town", "level": "town", "parent": "440981"},
        ],
        "departments": [{"id": "urban_management", "name": "Urban management"}],
        "nodes": [
            {
                "id": "LC1",
                "kind": "lighting_cabinet",
                "region": "440981103",
                "endpoints": {"cab485": {"host": "127.0.0.1", "port": port}, "meter": {"address": ADDRESS}},
            }
        ],
    }
    (root / "fleet.yaml").write_text(yaml.safe_dump(fleet))
    return root / "profiles", root / "kinds", root / "fleet.yaml"


async def test_a_meter_of_a_node_kind_is_registered_rendered_polled_and_stored(
    tmp_path: Path, mosquitto_fresh: MosquittoServer
) -> None:
    mosquitto = mosquitto_fresh  # a broker of its own: no other test's retained node status reaches this hub
    bus = MeterBus([SimMeter(ADDRESS, THREE)], clock=lambda: 1_716_213_791.0)  # the bus tests' frozen clock
    port = free_port()
    started = asyncio.Event()
    profiles_dir, kinds_dir, fleet = _site(tmp_path, port)
    settings = HubSettings(
        data_dir=tmp_path / "hub",
        mqtt_url=mosquitto.url,
        mqtt_client_id="hub-dlt645",
        api_port=0,
        profiles_dir=profiles_dir,
        node_kinds_dir=kinds_dir,
        fleet_file=fleet,
    )
    async with serving(bus.serve_tcp("127.0.0.1", port, started)), running_hub(settings) as hub:
        await asyncio.wait_for(started.wait(), 5)
        node = await asyncio.to_thread(hub.services.registry.get_node, "LC1")
        assert [d.uid for d in node.devices] == ["LC1.meter"]  # the meter is a device of the node
        profiles = load_profiles(profiles_dir)
        kind = load_node_kinds(kinds_dir, profiles.ids())["lighting_cabinet"]
        config = render_agent_config(node, kind, HubLink(url=mosquitto.url))
        assert [(m.id, m.address, m.connection) for m in config.meters] == [("meter", ADDRESS, "cab485")]
        agent = Agent(config, profiles, tmp_path / "state")
        async with running(agent.run(), "test:agent"):

            async def stored() -> bool:
                got = await hub.services.store.latest([("LC1.meter", THREE.id)])
                return "energy_import_tariff2" in got.get("LC1.meter", {})

            await wait_for(stored, 30, "the meter's readings stored at the hub")
        latest = (await hub.services.store.latest([("LC1.meter", THREE.id)]))["LC1.meter"]
        assert latest["voltage_a"].value == expected(THREE, "voltage_a")
        assert latest["energy_import_tariff2"].value == expected(THREE, "energy_import_tariff2")
        assert hub.services.stats.dead_letters == {}, "no meter reading refused by the hub"
