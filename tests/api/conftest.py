"""An API over a small migrated registry with users of every role, each with a token.

Regions: city 440981 > towns 440981103 (T1, with village 440981103201) and
440981104 (T2). Nodes: W1 water gauge in T1, W2 water gauge in T2, P1 smart
pole in T1's village (department ``urban_management``).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from citysense.agentconfig import HubLink
from citysense.nodekinds import NodeKind, default_node_kind_dir, load_node_kinds
from citysense.profiles import ProfileSet, load_profiles
from citysense.profiles.loader import default_profile_dir
from hub.alerts.config import AlertConfig
from hub.alerts.engine import AlertEngine
from hub.api.app import create_app
from hub.api.routes import alarms as alarm_routes
from hub.api.services import HubServices
from hub.ingest.stats import IngestStats
from hub.latest import LatestCache
from hub.registry.access import Access
from hub.registry.bootstrap import sync_catalogue
from hub.registry.fleet import Fleet
from hub.registry.service import Registry
from hub.store.sqlite import SqliteStore
from tests.harness.mosquitto import MosquittoServer

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
    "op_water": ("operator", None, ["water"]),  # the weather/water department, city-wide
    "viewer_city": ("viewer", None, []),
}
ACK_SECRET = "ack-secret-for-the-api-tests-0123456789"


@dataclass
class Api:
    """An HTTP client on the app, the registry behind it, and a token per user."""

    client: httpx.AsyncClient
    registry: Registry
    services: HubServices
    tokens: dict[str, str] = field(default_factory=dict)
    app: FastAPI | None = None

    def engine(self) -> AlertEngine:
        """The alert engine behind the alarm routes (see the ``alerted`` fixture)."""
        assert self.app is not None
        engine: AlertEngine = self.app.state.alerts
        return engine

    def auth(self, user: str) -> dict[str, str]:
        """Headers of ``user``'s token."""
        return {"Authorization": f"Bearer {self.tokens[user]}"}


@dataclass(frozen=True)
class ApiTemplate:
    """A registry built once per test session; each test gets its own copy of the file."""

    db: Path
    tokens: dict[str, str]
    profiles: ProfileSet
    kinds: dict[str, NodeKind]


@pytest.fixture(scope="session")
def api_template(tmp_path_factory: pytest.TempPathFactory) -> ApiTemplate:
    # Built once: migrations, the fleet and seven password hashes (PBKDF2, on purpose slow) took ~2 s a test.
    profiles = load_profiles(default_profile_dir())
    kinds = load_node_kinds(default_node_kind_dir(), set(profiles))
    db = tmp_path_factory.mktemp("api-template") / "registry.db"
    registry = Registry(f"sqlite:///{db}")
    registry.migrate()
    registry.apply_fleet(Fleet.model_validate(FLEET), kinds, profiles)
    sync_catalogue(registry, profiles, kinds)
    access = Access(registry)
    tokens = {}
    for user, (role, region, depts) in USERS.items():
        access.upsert_user("test", user, role, region_scope=region, departments=depts, password=f"{user}-pw")
        tokens[user] = access.issue_token("test", user, "test")[1]
    registry.engine.dispose()  # the last connection closed: SQLite checkpoints the WAL into the file and removes it
    assert not db.with_name(db.name + "-wal").exists()  # so a copy of the file alone is the whole registry
    return ApiTemplate(db, tokens, profiles, kinds)


@pytest.fixture
async def api(tmp_path: Path, api_template: ApiTemplate) -> AsyncIterator[Api]:
    shutil.copyfile(api_template.db, tmp_path / "registry.db")
    profiles, kinds, tokens = api_template.profiles, api_template.kinds, dict(api_template.tokens)
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
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
    app = create_app(services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
        yield Api(client, registry, services, tokens, app)
    await store.close()
    registry.engine.dispose()


@pytest.fixture
async def alerted(api: Api) -> Api:
    """``api`` with the alert engine and its routes mounted, as the hub does when ``alerts_file`` is set."""
    assert api.app is not None
    api.app.state.alerts = AlertEngine(
        registry=api.registry,
        snapshot=api.registry.snapshot(),
        profiles=api.services.profiles,
        cfg=AlertConfig(ack_secret=ACK_SECRET, receipt_key="receipt-key"),  # type: ignore[arg-type]
    )
    await api.app.state.alerts.start()
    for router in alarm_routes.routers:
        api.app.include_router(router)
    return api


@pytest.fixture
def broker(dynsec_broker: MosquittoServer) -> MosquittoServer:
    """Mosquitto with dynamic security, of this test alone (tests/conftest.py)."""
    return dynsec_broker
