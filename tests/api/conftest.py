"""An API over a small migrated registry with users of every role, each with a token.

Regions: city 440981 > towns 440981103 (T1, with village 440981103201) and
440981104 (T2). Nodes: W1 water gauge in T1, W2 water gauge in T2, P1 smart
pole in T1's village (department ``urban_management``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from citysense.agentconfig import HubLink
from citysense.nodekinds import default_node_kind_dir, load_node_kinds
from citysense.profiles import load_profiles
from citysense.profiles.loader import default_profile_dir
from hub.api.app import create_app
from hub.api.services import HubServices
from hub.ingest.stats import IngestStats
from hub.latest import LatestCache
from hub.registry.access import Access
from hub.registry.bootstrap import sync_catalogue
from hub.registry.fleet import Fleet
from hub.registry.service import Registry
from hub.store.sqlite import SqliteStore

T1, T2, V1 = "440981103", "440981104", "440981103201"
EP = {"rs485": {"host": "127.0.0.1", "port": 1502}}
FLEET = {
    "regions": [
        {"code": "440981", "name": "Gaozhou", "level": "city"},
        {"code": T1, "name": "Town 1", "level": "town", "parent": "440981"},
        {"code": T2, "name": "Town 2", "level": "town", "parent": "440981"},
        {"code": V1, "name": "Village 1", "level": "village", "parent": T1},
    ],
    "departments": [{"id": "water", "name": "Water"}, {"id": "urban_management", "name": "Urban management"}],
    "nodes": [
        {"id": "W1", "kind": "water_gauge", "region": T1, "endpoints": EP},
        {"id": "W2", "kind": "water_gauge", "region": T2, "endpoints": EP},
        {"id": "P1", "kind": "smart_pole", "region": V1, "endpoints": EP},
    ],
}
# user id -> (role, region scope, departments)
USERS: dict[str, tuple[str, str | None, list[str]]] = {
    "admin": ("administrator", None, []),
    "admin_t1": ("administrator", T1, []),
    "op_t1_water": ("operator", T1, ["water"]),
    "tech_t1": ("technician", T1, []),
    "viewer_t2": ("viewer", T2, []),
}


@dataclass
class Api:
    """An HTTP client on the app, the registry behind it, and a token per user."""

    client: httpx.AsyncClient
    registry: Registry
    services: HubServices
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, user: str) -> dict[str, str]:
        """Headers of ``user``'s token."""
        return {"Authorization": f"Bearer {self.tokens[user]}"}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    profiles = load_profiles(default_profile_dir())
    kinds = load_node_kinds(default_node_kind_dir(), set(profiles))
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    registry.migrate()
    registry.apply_fleet(Fleet.model_validate(FLEET), kinds, profiles)
    sync_catalogue(registry, profiles, kinds)
    access = Access(registry)
    tokens = {}
    for user, (role, region, depts) in USERS.items():
        access.upsert_user("test", user, role, region_scope=region, departments=depts, password=f"{user}-pw")
        tokens[user] = access.issue_token("test", user, "test")[1]
    store = SqliteStore(tmp_path / "readings.db")
    await store.start()
    services = HubServices(
        registry,
        store,
        LatestCache(),
        IngestStats(),
        profiles,
        kinds=kinds,
        hub_link=HubLink(url="mqtt://127.0.0.1:1883"),
        open_read=False,
    )
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
        yield Api(client, registry, services, tokens)
    await store.close()
    registry.engine.dispose()
