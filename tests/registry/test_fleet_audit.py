"""Fleet-file writes are audited once per change, not on every start."""

from __future__ import annotations

from pathlib import Path

from citysense.nodekinds import default_node_kind_dir, load_node_kinds
from citysense.profiles import load_profiles
from citysense.profiles.loader import default_profile_dir
from hub.registry.access import Access
from hub.registry.fleet import Fleet
from hub.registry.service import Registry

FLEET = {
    "regions": [{"code": "440981", "name": "Gaozhou", "level": "city"}],
    "departments": [{"id": "water", "name": "Water"}],
    "nodes": [
        {"id": "W1", "kind": "water_gauge", "region": "440981", "endpoints": {"rs485": {"host": "h", "port": 1}}}
    ],
}


def test_fleet_changes_are_audited(tmp_path: Path) -> None:
    profiles = load_profiles(default_profile_dir())
    kinds = load_node_kinds(default_node_kind_dir(), set(profiles))
    reg = Registry(f"sqlite:///{tmp_path / 'r.db'}")
    reg.migrate()
    reg.apply_fleet(Fleet.model_validate(FLEET), kinds, profiles)
    reg.apply_fleet(Fleet.model_validate(FLEET), kinds, profiles)  # a restart: nothing changed
    renamed = {**FLEET, "nodes": [{**FLEET["nodes"][0], "name": "Jianjiang gauge"}]}  # type: ignore[dict-item]
    reg.apply_fleet(Fleet.model_validate(renamed), kinds, profiles)
    entries = Access(reg).audit_log("W1")
    assert [(e.actor, e.action) for e in entries] == [("fleet-file", "node.create"), ("fleet-file", "node.update")]
    assert '"name": "Jianjiang gauge"' in (entries[1].after_json or "")
    reg.engine.dispose()
