"""The edge agent installs alone: it imports nothing the hub or Grafana extras bring, and its extra lists all it uses.

``pip install "citysense[agent]"`` must give a working agent (docs/agent-install.md). Two checks:
the agent's command runs with every hub-only package made unimportable, and every third-party module that
``citysense/`` and ``edge_agent/`` import is provided by the core dependencies or the ``agent`` extra.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Modules only the hub and grafana extras install (and the hub's and dashboards' own packages).
HUB_ONLY = [
    "hub", "dashboards", "fastapi", "starlette", "uvicorn", "influxdb_client", "sqlalchemy", "alembic", "psycopg",
    "httpx", "amqtt", "typer", "rich", "segno", "grafana_foundation_sdk", "grafana_client", "urllib3",
]  # fmt: skip
BLOCKER = f"""
import sys
BLOCKED = {HUB_ONLY!r}

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is not part of the agent install")
        return None

sys.meta_path.insert(0, Block())
"""
CONFIG = """
node_id: LEAN1
connections:
  - {id: bus, type: modbus_tcp, host: 127.0.0.1, port: 1502}
  - {id: meters, type: dlt645_serial, serial_port: /dev/ttyUSB0}
devices:
  - {id: level, profile: radar_level_rs485, connection: bus, unit_id: 1}
meters:
  - {id: cabinet, profile: chint_dtsu666_dlt645, connection: meters, address: "202405200001"}
mqtt:
  - {id: local, mapping_files: [tasmota, tasmota_lwt, zigbee2mqtt, zigbee2mqtt_availability, sparkplug_b]}
"""


def test_the_agent_runs_with_every_hub_package_blocked(tmp_path: Path) -> None:
    (tmp_path / "agent.yaml").write_text(CONFIG)
    code = BLOCKER + (
        "import edge_agent.app, edge_agent.cli, simulator.dlt645\n"
        "sys.exit(edge_agent.cli.main(['validate', '--config', sys.argv[1]]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "agent.yaml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    blocked = subprocess.run(
        [sys.executable, "-c", BLOCKER + "import hub.cli"], cwd=ROOT, capture_output=True, check=False
    )
    assert blocked.returncode != 0  # the blocker does block: the first check could fail


def _third_party_imports(*packages: str) -> set[str]:
    local = {"citysense", "edge_agent", "simulator", "hub", "dashboards", "scripts", "tests", "bench"}
    found: set[str] = set()
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                found.update(n.split(".")[0] for n in names)
    return {m for m in found - local if m not in sys.stdlib_module_names}


def test_the_agent_extra_lists_every_package_the_agent_imports() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {
        req.split("==")[0].split("[")[0].strip().lower()
        for req in [*project["dependencies"], *project["optional-dependencies"]["agent"]]
    }
    owners = packages_distributions()
    missing = {}
    for module in _third_party_imports("citysense", "edge_agent", "simulator"):
        dists = {d.lower() for d in owners.get(module, [module])}
        if not dists & declared:
            missing[module] = sorted(dists)
    assert missing == {}, f"imported by the agent but not in its extra: {missing}"
    assert not declared & {"fastapi", "sqlalchemy", "alembic", "psycopg", "grafana-foundation-sdk", "uvicorn"}
