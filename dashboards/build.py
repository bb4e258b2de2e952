"""Build every dashboard, write it as JSON, and tell whether the committed JSON is stale."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from citysense.errors import ConfigError
from citysense.yamlconf import load_model
from dashboards import DashboardError
from dashboards.boards import overview, poles, traffic, water, weather
from dashboards.catalogue import Catalogue, Lines, lines_from_rules

BOARDS = (overview, water, weather, poles, traffic)
GENERATED = Path(__file__).with_name("generated")
LEVEL_METRIC = "water_level"


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for p in panels:
        yield p
        yield from _panels(p.get("panels", []))


def to_json(board: Any) -> dict[str, Any]:
    """Serialise a built dashboard; number its panels in order (Grafana wants unique ids)."""
    data: dict[str, Any] = json.loads(json.dumps(board, cls=JSONEncoder))
    for i, panel in enumerate(_panels(data.get("panels", [])), start=1):
        panel["id"] = i
        if panel["type"] != "row":  # Grafana saves every panel with a fieldConfig; keep diffs against exports small
            panel.setdefault("fieldConfig", {"defaults": {}, "overrides": []})
    data.setdefault("schemaVersion", 39)
    data.pop("id", None)  # Grafana assigns ids; provisioning and the API match dashboards by uid
    return data


def build_all(cat: Catalogue, site_lines: Mapping[str, Lines] | None = None) -> dict[str, dict[str, Any]]:
    """Return ``{file name: dashboard JSON}`` for every board."""
    out: dict[str, dict[str, Any]] = {}
    for module in BOARDS:
        data = to_json(module.build(cat, site_lines or {}).build())
        out[f"{data['uid']}.json"] = data
    return out


def render(data: dict[str, Any]) -> str:
    """The committed text of one dashboard: stable key order, UTF-8, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(boards: Mapping[str, dict[str, Any]], folder: Path = GENERATED) -> list[Path]:
    """Write the dashboards into ``folder``, removing stale ``citysense-*.json`` files; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("citysense-*.json"):
        if old.name not in boards:
            old.unlink()
    paths = []
    for name, data in sorted(boards.items()):
        path = folder / name
        path.write_text(render(data), encoding="utf-8")
        paths.append(path)
    return paths


def stale(boards: Mapping[str, dict[str, Any]], folder: Path = GENERATED) -> list[str]:
    """Return the names of files in ``folder`` that differ from ``boards`` (or are missing or extra)."""
    have = {p.name for p in folder.glob("citysense-*.json")}
    wrong = [n for n, d in boards.items() if n not in have or (folder / n).read_text(encoding="utf-8") != render(d)]
    return sorted(wrong + [n for n in have if n not in boards])


def site_lines(alerts_file: Path) -> dict[str, Lines]:
    """Per-gauge warning and danger lines from an alerts file's ``device_rules`` (threshold rules on the level)."""
    from hub.alerts.config import AlertConfig

    try:
        cfg = load_model(AlertConfig, alerts_file)
    except ConfigError as exc:
        raise DashboardError(str(exc)) from exc
    out = {}
    for uid, override in cfg.device_rules.items():
        lines = lines_from_rules(override.rules, LEVEL_METRIC)
        if lines.warning is not None or lines.danger is not None:
            out[uid] = lines
    return out
