"""The generated dashboards: fresh, valid Grafana dashboard JSON, and built from the profiles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from citysense.profiles.loader import default_profile_dir
from dashboards import DashboardError
from dashboards.__main__ import main
from dashboards.build import GENERATED, build_all, site_lines, stale, write
from dashboards.catalogue import Catalogue
from dashboards.targets import HUB_UID, INFLUX_UID

SCHEMA = json.loads(Path(__file__).with_name("dashboard.schema.json").read_text(encoding="utf-8"))
BOARDS = build_all(Catalogue.load())


def test_committed_json_is_what_the_generator_writes_now() -> None:
    assert stale(BOARDS) == [], "dashboards/generated is stale: run python -m dashboards generate"


def test_check_command_fails_on_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    write(BOARDS, tmp_path)
    edited = json.loads((tmp_path / "citysense-water.json").read_text(encoding="utf-8"))
    edited["title"] = "edited by hand"
    (tmp_path / "citysense-water.json").write_text(json.dumps(edited), encoding="utf-8")
    assert stale(BOARDS, tmp_path) == ["citysense-water.json"]


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_dashboard_matches_the_dashboard_model(name: str) -> None:
    jsonschema.validate(BOARDS[name], SCHEMA)


def _cells(panel: dict[str, Any]) -> set[tuple[int, int]]:
    g = panel["gridPos"]
    return {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_panels_fit_the_grid_without_overlapping(name: str) -> None:
    taken: set[tuple[int, int]] = set()
    ids = [p["id"] for p in BOARDS[name]["panels"]]
    assert len(ids) == len(set(ids))
    for panel in BOARDS[name]["panels"]:
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        cells = _cells(panel)
        assert not cells & taken, f"{name}: '{panel['title']}' overlaps another panel"
        taken |= cells


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_every_board_filters_by_town_village_and_department(name: str) -> None:
    board = BOARDS[name]
    names = [v["name"] for v in board["templating"]["list"]]
    assert names == ["dept", "town", "village", "res", "rp"]
    for panel in board["panels"]:
        refs = [t["refId"] for t in panel.get("targets", [])]
        assert len(refs) == len(set(refs)), panel["title"]
        for t in panel.get("targets", []):
            assert t["datasource"]["uid"] in {INFLUX_UID, HUB_UID}
            if t["datasource"]["uid"] == INFLUX_UID:
                for var in ("$town", "$village", "$dept"):
                    assert var in t["query"], f"{name}: '{panel['title']}' ignores {var}"
                assert '"$rp".' in t["query"]


def test_department_boards_open_on_their_department() -> None:
    depts = {
        n: next(v for v in b["templating"]["list"] if v["name"] == "dept")["current"]["value"]
        for n, b in BOARDS.items()
    }
    assert depts == {
        "citysense-overview.json": ["$__all"],
        "citysense-water.json": ["water"],
        "citysense-weather.json": ["weather"],
        "citysense-poles.json": ["urban_management"],
        "citysense-traffic.json": ["traffic"],
    }


def test_signal_states_show_the_profiles_names() -> None:
    traffic = BOARDS["citysense-traffic.json"]
    sg1 = next(p for p in traffic["panels"] if p["title"].startswith("Signal group 1"))
    assert sg1["type"] == "state-timeline"
    names = sg1["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert names["1"]["text"] == "red" and names["3"]["text"] == "green"


def test_rain_accumulations_follow_the_profiles_alert_windows() -> None:
    water = BOARDS["citysense-water.json"]
    titles = [p["title"] for p in water["panels"]]
    assert {"Rain in the last 1h", "Rain in the last 3h", "Rain in the last 24h"} <= set(titles)
    rain_1h = next(p for p in water["panels"] if p["title"] == "Rain in the last 1h")
    steps = [(s["value"], s["color"]) for s in rain_1h["fieldConfig"]["defaults"]["thresholds"]["steps"]]
    assert [v for v, _ in steps] == [None, 20, 30, 50]  # tipping_bucket_rs485's rain_1h levels


def test_a_profile_that_loses_a_metric_fails_generation_naming_it(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    shutil.copytree(default_profile_dir(), profiles)
    radar = profiles / "radar_level_rs485.yaml"
    text = radar.read_text(encoding="utf-8").replace("metric: water_level", "metric: level_m")
    radar.write_text(text.replace("metric: water_level", "metric: level_m"), encoding="utf-8")
    with pytest.raises(DashboardError, match=r"radar_level_rs485.*water_level"):
        build_all(Catalogue.load(profiles))


def test_site_lines_add_one_panel_per_gauge_with_its_lines(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.yaml"
    alerts.write_text(
        "device_rules:\n"
        "  GZ-WG-0001.level:\n"
        "    rules:\n"
        "      - {id: level_warning, kind: threshold, metric: water_level, above: 3.2, severity: warning}\n"
        "      - {id: level_danger, kind: threshold, metric: water_level, above: 4.1, severity: critical}\n",
        encoding="utf-8",
    )
    water = build_all(Catalogue.load(), site_lines(alerts))["citysense-water.json"]
    panel = next(p for p in water["panels"] if p["title"].startswith("GZ-WG-0001.level"))
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [(s["value"], s["color"]) for s in steps] == [(None, "green"), (3.2, "#EAB839"), (4.1, "red")]
    assert panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] == {"mode": "dashed"}
    assert "\"device\" = 'GZ-WG-0001.level'" in panel["targets"][0]["query"]


def test_a_broken_alerts_file_is_reported_with_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alerts = tmp_path / "alerts.yaml"
    alerts.write_text("device_rules:\n  X.level: {rules: [{id: a, kind: threshold, metric: water_level, abve: 1}]}\n")
    assert main(["--alerts", str(alerts), "generate", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "alerts.yaml" in err and "abve" in err


def test_generated_folder_is_committed_next_to_the_code() -> None:
    assert Path(__file__).resolve().parents[2] / "dashboards" / "generated" == GENERATED
