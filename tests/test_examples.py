"""The example files in examples/ stay valid as the schemas evolve."""

from __future__ import annotations

from pathlib import Path

from citysense.nodekinds import default_node_kind_dir, load_node_kinds
from citysense.profiles import load_profiles
from citysense.profiles.loader import default_profile_dir
from citysense.yamlconf import load_model
from edge_agent.config import load_agent_config
from hub.config import HubSettings
from hub.registry.fleet import Fleet

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_hub_settings_example_is_valid() -> None:
    settings = load_model(HubSettings, EXAMPLES / "hub.yaml")
    assert settings.influx is not None and settings.mqtt_url


def test_fleet_example_uses_shipped_kinds() -> None:
    fleet = load_model(Fleet, EXAMPLES / "fleet.yaml")
    kinds = load_node_kinds(default_node_kind_dir(), set(load_profiles(default_profile_dir())))
    regions = {r.code for r in fleet.regions}
    for node in fleet.nodes:
        assert node.kind in kinds and node.region in regions
        assert set(node.endpoints) == {c.id for c in kinds[node.kind].connections}


def test_agent_example_is_valid() -> None:
    config, profiles = load_agent_config(EXAMPLES / "agent-water-gauge.yaml")
    assert {d.profile for d in config.devices} <= set(profiles)
