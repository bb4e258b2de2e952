"""The technician CLI against the API (in-process app behind starlette's TestClient)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from starlette.testclient import TestClient
from typer.testing import CliRunner

from citysense.agentconfig import AgentConfig, HubLink
from citysense.nodekinds import default_node_kind_dir, load_node_kinds
from citysense.profiles import load_profiles
from citysense.profiles.loader import default_profile_dir
from hub.api.app import create_app
from hub.api.services import HubServices
from hub.ingest.stats import IngestStats
from hub.latest import LatestCache
from hub.registry.access import Access
from hub.registry.fleet import Fleet
from hub.registry.service import Registry
from hub.store.sqlite import SqliteStore
from hub.techcli import client as cli_client
from hub.techcli.app import app
from tests.api.conftest import FLEET, T1

runner = CliRunner()


@pytest.fixture
def hub_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Return the admin token; CLI requests go to an in-process hub."""
    profiles = load_profiles(default_profile_dir())
    kinds = load_node_kinds(default_node_kind_dir(), set(profiles))
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    registry.migrate()
    registry.apply_fleet(Fleet.model_validate(FLEET), kinds, profiles)
    access = Access(registry)
    access.upsert_user("test", "admin", "administrator")
    access.upsert_user("test", "li.wei", "technician", region_scope=T1, password="pw-li")
    store = SqliteStore(tmp_path / "readings.db")
    asyncio.run(store.start())
    services = HubServices(registry, store, LatestCache(), IngestStats(), profiles, kinds=kinds, hub_link=HubLink())
    test_app = create_app(services)

    def factory(base_url: str, headers: dict[str, str]) -> httpx.Client:
        assert base_url == "http://hub.test"
        return TestClient(test_app, base_url=base_url, headers=headers)

    monkeypatch.setattr(cli_client, "client_factory", factory)
    monkeypatch.setenv("CITYSENSE_CLI_CONFIG", str(tmp_path / "cli.json"))
    yield access.issue_token("test", "admin")[1]
    asyncio.run(store.close())
    registry.engine.dispose()


def _admin_placeholder(token: str, node_id: str) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    body = {"id": node_id, "kind": "water_gauge", "region": T1}
    with cli_client.client_factory("http://hub.test", headers) as c:
        code: str = c.post("/api/v1/nodes", json=body).json()["claim_code"]
    return code


def test_login_claim_and_status(hub_app: str, tmp_path: Path) -> None:
    r = runner.invoke(app, ["node", "W1"])
    assert r.exit_code == 1 and "not logged in" in r.output
    r = runner.invoke(app, ["login", "--hub", "http://hub.test", "--user", "li.wei"], input="wrong\n")
    assert r.exit_code == 1 and "401" in r.output
    r = runner.invoke(app, ["login", "--hub", "http://hub.test", "--user", "li.wei"], input="pw-li\n")
    assert r.exit_code == 0, r.output
    code = _admin_placeholder(hub_app, "GZ-WG-0900")
    out = tmp_path / "node.yaml"
    args = ["claim", f"citysense:claim:{code}", "--lat", "21.9", "--lon", "110.8", "--site", "WG-0900"]
    r = runner.invoke(app, [*args, "--endpoint", "rs485=10.1.2.3:502", "--out", str(out)])
    assert r.exit_code == 0, r.output
    config = AgentConfig.model_validate(yaml.safe_load(out.read_text()))
    assert config.node_id == "GZ-WG-0900" and config.connections[0].host == "10.1.2.3"
    assert config.hub.password is not None
    r = runner.invoke(app, ["node", "GZ-WG-0900"])
    assert r.exit_code == 0 and "claimed" in r.output and "GZ-WG-0900.level" in r.output
    r = runner.invoke(app, ["readings", "GZ-WG-0900.level", "--watch", "--interval-s", "0.5", "--times", "2"])
    assert r.exit_code == 0 and "GZ-WG-0900.level" in r.output
    r = runner.invoke(app, ["node", "W2"])  # another town: not visible to this technician
    assert r.exit_code == 1 and "404" in r.output


def test_import_with_progress_reports_failed_rows(hub_app: str, tmp_path: Path) -> None:
    from hub.techcli.client import Login, save_login

    save_login(Login(hub="http://hub.test", token=hub_app, user="admin"))
    rows = [f"GZ-WG-{i:04d},water_gauge,{T1}" for i in range(1000, 1120)] + ["bad!,water_gauge,1"]
    csv_file = tmp_path / "nodes.csv"
    csv_file.write_text("id,kind,region\n" + "\n".join(rows) + "\n")
    r = runner.invoke(app, ["import", "nodes", str(csv_file)])
    assert r.exit_code == 2, r.output
    assert "120 imported, 1 failed" in r.output
    assert "122" in r.output  # the bad row's line number in the file, across chunks


def test_qr_label(tmp_path: Path) -> None:
    r = runner.invoke(app, ["qr", "ABCD-EFGH", "--out", str(tmp_path / "label.svg")])
    assert r.exit_code == 0
    assert (tmp_path / "label.svg").read_text().startswith("<?xml")
    r = runner.invoke(app, ["qr", "ABCD-EFGH"])
    assert r.exit_code == 0 and len(r.output.splitlines()) > 10
