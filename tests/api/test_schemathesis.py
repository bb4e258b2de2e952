"""Property-based tests of every operation against the OpenAPI document (schemathesis).

Checks: no 5xx, and every documented response matches its schema. Bounded
(``max_examples``) so the suite stays fast, and derandomized so CI is
repeatable (drop ``derandomize`` locally to explore). Requests carry the
city-wide administrator's token so they reach the handlers, and then none at
all (every protected route must answer 401, never 5xx). The alarm routes are
mounted, as on a hub with ``alerts_file``. The long run against a real hub
is ``bench/schemathesis_hub.py`` (figures in docs/security.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from citysense.agentconfig import HubLink
from citysense.nodekinds import default_node_kind_dir, load_node_kinds
from citysense.profiles import load_profiles
from citysense.profiles.loader import default_profile_dir
from hub.alerts.config import AlertConfig
from hub.alerts.engine import AlertEngine
from hub.api.app import create_app
from hub.api.routes import alarms as alarm_routes
from hub.api.services import HubServices
from hub.ingest.stats import IngestStats
from hub.latest import LatestCache
from hub.registry.access import Access
from hub.registry.fleet import Fleet
from hub.registry.service import Registry
from hub.store.sqlite import SqliteStore
from tests.api.conftest import ACK_SECRET, FLEET

TOKEN: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    profiles = load_profiles(default_profile_dir())
    kinds = load_node_kinds(default_node_kind_dir(), set(profiles))
    registry = Registry(f"sqlite:///{tmp / 'registry.db'}")
    registry.migrate()
    registry.apply_fleet(Fleet.model_validate(FLEET), kinds, profiles)
    access = Access(registry)
    access.upsert_user("test", "admin", "administrator")
    TOKEN["admin"] = access.issue_token("test", "admin")[1]
    store = SqliteStore(tmp / "readings.db")
    asyncio.run(store.start())
    services = HubServices(
        registry, store, LatestCache(), IngestStats(), profiles, kinds=kinds, hub_link=HubLink(), open_read=False
    )
    app = create_app(services)
    app.state.alerts = AlertEngine(
        registry=registry,
        snapshot=registry.snapshot(),
        profiles=profiles,
        cfg=AlertConfig(ack_secret=ACK_SECRET),  # type: ignore[arg-type]
    )
    for router in alarm_routes.routers:
        app.include_router(router)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    asyncio.run(store.close())
    registry.engine.dispose()


def _both(operation: Any) -> st.SearchStrategy[schemathesis.Case]:
    """Valid requests and invalid ones (wrong types, out-of-range values, missing fields)."""
    return st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))


def _check(schema: schemathesis.BaseSchema, auth: dict[str, str]) -> None:
    checks = [not_a_server_error, response_schema_conformance]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20  # every route is in the document
    for operation in operations:

        @given(case=_both(operation))
        @settings(
            max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True
        )
        def run(case: schemathesis.Case) -> None:
            # Do not let generated requests revoke the token every other case relies on.
            if case.method.upper() == "DELETE" and "token_id" in (case.path_parameters or {}):
                case.path_parameters = {"token_id": "not-the-admin-token"}
            case.call_and_validate(headers=auth, checks=checks)

        run()


def test_api_conforms_to_its_openapi(api_schema: schemathesis.BaseSchema) -> None:
    _check(api_schema, {"Authorization": f"Bearer {TOKEN['admin']}"})


def test_api_without_a_token_never_fails(api_schema: schemathesis.BaseSchema) -> None:
    _check(api_schema, {})
