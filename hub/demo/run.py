"""``citysense-demo``: the hub, a simulated fleet and one edge agent per node, in one process.

Runs on embedded defaults (amqtt broker, SQLite store) unless told otherwise,
prints the API's URL and stops cleanly on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from citysense.agentconfig import HubLink
from citysense.nodekinds import default_node_kind_dir, load_node_kinds
from citysense.profiles import load_profiles
from citysense.profiles.loader import default_profile_dir
from citysense.runner import run_until_interrupted
from citysense.yamlconf import load_model
from edge_agent.app import Agent
from hub.config import HubSettings
from hub.demo.plan import node_ids, node_spec
from hub.demo.stations import AQ_NODE, DTU_NODE, RG_NODE, DemoStations, demo_station_settings, demo_stations
from hub.registry.access import Access
from hub.registry.fleet import Fleet, NodeSpec
from hub.registry.render import render_agent_config
from hub.runtime import RunningHub, running_hub
from simulator.fleet import SimulatedNode

REGIONS = Path(__file__).with_name("regions.yaml")
ALERTS = Path(__file__).with_name("alerts.yaml")
DUTY_OFFICER = "duty"


@dataclass
class Demo:
    """Handles on a running demo, for tests."""

    hub: RunningHub
    simulators: dict[str, SimulatedNode]
    agents: dict[str, Agent] = field(default_factory=dict)
    stations: DemoStations | None = None  # the dial-in stations (HJ 212 monitor, DTU site)


@contextlib.asynccontextmanager
async def demo_stack(settings: HubSettings, per_kind: int = 2, *, frozen: bool = False) -> AsyncIterator[Demo]:
    """Start simulators, the hub (registering their nodes) and one agent per node.

    ``frozen`` stops the simulated values from changing, so tests can compare exactly.
    """
    profiles = load_profiles(settings.profiles_dir or default_profile_dir())
    kinds = load_node_kinds(settings.node_kinds_dir or default_node_kind_dir(), profiles.ids())
    base = load_model(Fleet, REGIONS)
    async with contextlib.AsyncExitStack() as stack:
        sims: dict[str, SimulatedNode] = {}
        specs: list[NodeSpec] = []
        for seed, (node_id, site) in enumerate(node_ids(per_kind)):
            sim = SimulatedNode(kinds[site.kind], profiles, node_id, seed=seed)
            await sim.start()
            if frozen:
                sim.freeze()
            stack.push_async_callback(sim.stop)
            sims[node_id] = sim
            specs.append(node_spec(node_id, site, kinds[site.kind], sim.port))
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fleet_file = settings.data_dir / "demo-fleet.yaml"
        fleet = Fleet(regions=base.regions, departments=base.departments, nodes=specs)
        fleet_file.write_text(yaml.safe_dump(fleet.model_dump(mode="json"), allow_unicode=True), encoding="utf-8")
        settings = settings.model_copy(update={"fleet_file": fleet_file})
        if settings.stations is None:
            settings = settings.model_copy(update={"stations": demo_station_settings()})
        hub = await stack.enter_async_context(running_hub(settings))
        demo = Demo(hub, sims)
        demo.stations = await stack.enter_async_context(demo_stations(hub, kinds, hub.services.profiles))
        link = HubLink(url=f"mqtt://{hub.mqtt_host}:{hub.mqtt_port}", topic_prefix=settings.topic_prefix)
        nodes = await asyncio.to_thread(hub.services.registry.list_nodes)
        tasks: list[asyncio.Task[None]] = []
        async with asyncio.TaskGroup() as tg:
            for node in nodes:
                if node.id not in sims:
                    continue
                config = render_agent_config(node, kinds[node.kind], link)
                agent = Agent(config, profiles, settings.data_dir / "agents")
                demo.agents[node.id] = agent
                tasks.append(tg.create_task(agent.run(), name=f"demo:agent:{node.id}"))
            try:
                yield demo
            finally:
                for task in tasks:
                    task.cancel()


def duty_officer_token(hub: RunningHub) -> str:
    """Create (or refresh) the demo's duty officer, an operator over the whole city, and return a new token."""
    access = Access(hub.services.registry)
    access.upsert_user("demo", DUTY_OFFICER, "operator", display_name="值班员 (demo duty officer)")
    _, token = access.issue_token("demo", DUTY_OFFICER, "demo dashboard login")
    return token


async def _main(settings: HubSettings, per_kind: int) -> None:
    async with demo_stack(settings, per_kind) as demo:
        url = demo.hub.api_url
        token = await asyncio.to_thread(duty_officer_token, demo.hub)
        print(f"\nCitySense demo is running: {len(demo.agents)} nodes reporting, and 3 dial-in stations.")
        print(f"  Dashboard (map, nodes, alarms): {url}/ui/")
        print(f"  ... signed in as the duty officer, to acknowledge alarms: {url}/ui/#token={token}")
        print(f"  API (interactive docs): {url}/docs")
        print(f"  Nodes:                  {url}/api/v1/nodes")
        example = next(iter(demo.hub.services.profiles), "")
        if demo.agents and example:
            print(f"  Latest of a device:     {url}/api/v1/devices/<node>.<device>/latest")
            print(f"  Open alarms:            {url}/api/v1/alarms")
        gateway = demo.hub.services.stations
        if gateway is not None:
            ports = ", ".join(f"{p} on 127.0.0.1:{port}" for p, port in sorted(gateway.ports.items()))
            print(f"  Station gateway:        {ports}  (docs/stations.md)")
            print(f"  SL 651 rain gauge:      {url}/api/v1/devices/{RG_NODE}.rtu/latest")
            print(f"  HJ 212 monitor:         {url}/api/v1/devices/{AQ_NODE}.monitor/latest")
            print(f"  4G DTU weather site:    {url}/api/v1/nodes/{DTU_NODE}")
        print("Press Ctrl-C to stop.\n", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``citysense-demo``."""
    parser = argparse.ArgumentParser(prog="citysense-demo", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path("var/demo"))
    parser.add_argument("--port", type=int, default=8080, help="API port (0 picks a free one)")
    parser.add_argument("--nodes-per-kind", type=int, default=2, choices=range(1, 3))
    parser.add_argument("--hj212-port", type=int, default=0, help="HJ 212 listener port (0 picks a free one)")
    parser.add_argument("--dtu-port", type=int, default=0, help="4G DTU listener port (0 picks a free one)")
    parser.add_argument("--sl651-port", type=int, default=0, help="SL 651 listener port (0 picks a free one)")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    stations = demo_station_settings(args.hj212_port, args.dtu_port, args.sl651_port)
    settings = HubSettings(data_dir=args.data_dir, api_port=args.port, alerts_file=ALERTS, stations=stations)
    code = run_until_interrupted(_main(settings, args.nodes_per_kind), args.log_level)
    print("CitySense demo stopped.")
    return code


if __name__ == "__main__":
    sys.exit(main())
