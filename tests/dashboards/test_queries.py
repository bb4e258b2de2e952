"""Every InfluxDB query of every generated dashboard runs against data the hub wrote, and returns series."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from dashboards.build import GENERATED
from hub.store.retention import RetentionSettings, choose_resolution
from tests.dashboards.conftest import FilledInflux
from tests.dashboards.grafana import has_values, influx_targets, interpolate, resolve_query_variable, run

BOARDS = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(GENERATED.glob("citysense-*.json"))}
KIND_OF_BOARD = {
    "citysense-water": "water_gauge",
    "citysense-weather": "weather_station",
    "citysense-poles": "smart_pole",
    "citysense-traffic": "signal_cabinet",
}


def _run_board(filled: FilledInflux, board: dict[str, Any], selection: dict[str, list[str]], interval: str) -> dict:
    out = {}
    range_ = {"start_ms": filled.data.start_ms, "end_ms": filled.data.end_ms, "interval": interval}
    rp = resolve_query_variable(filled.url, filled.database, board, "rp", selection, **range_)
    assert len(rp) == 1, f"the resolution table gave {rp}"
    selection = {**selection, "rp": rp}
    for title, target in influx_targets(board):
        q = interpolate(target["query"], selection, board, **range_)
        assert not re.search(r"\$(?!tag_)[A-Za-z_{]", q), f"{title}: a variable was left in {q}"
        out[(title, target["refId"])] = run(filled.url, filled.database, q)
    return out


def test_the_generated_dashboards_are_all_there() -> None:
    assert set(BOARDS) == {"citysense-overview", *KIND_OF_BOARD}


@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_every_query_returns_series_with_the_default_selection(filled_influx: FilledInflux, uid: str) -> None:
    board = BOARDS[uid]
    results = _run_board(filled_influx, board, {}, "1m")
    assert results, f"{uid} has no InfluxDB query"
    empty = [key for key, series in results.items() if not has_values(series)]
    assert not empty, f"{uid}: these panels would show 'No data': {empty}"


@pytest.mark.parametrize("uid", sorted(KIND_OF_BOARD))
def test_a_town_selection_keeps_that_towns_devices_only(filled_influx: FilledInflux, uid: str) -> None:
    kind = KIND_OF_BOARD[uid]
    snapshot = filled_influx.data.registry.snapshot()
    towns = {
        nid: next(iter(view.devices.values())).tags.get("town", "")
        for nid, view in snapshot.nodes.items()
        if filled_influx.data.nodes[nid] == kind
    }
    node, town = sorted(towns.items())[0]
    others = {n for n, t in towns.items() if t != town}
    assert others, f"the fixture should put {kind} nodes in two towns"
    results = _run_board(filled_influx, BOARDS[uid], {"town": [town]}, "5m")
    seen: set[str] = set()
    for series in results.values():
        for s in series:
            seen.add(s.get("tags", {}).get("device", "").split(".")[0])
    seen.discard("")
    assert node in seen
    assert not seen & others, f"{uid}: town {town} selected, yet devices of other towns appear: {seen & others}"


@pytest.mark.parametrize("uid", sorted(KIND_OF_BOARD))
def test_time_series_read_the_one_minute_rollups_too(filled_influx: FilledInflux, uid: str) -> None:
    board = BOARDS[uid]
    results = _run_board(filled_influx, board, {"res": ["m1"]}, "5m")
    series_targets = {
        (p["title"], t["refId"])
        for p in board["panels"]
        if p["type"] == "timeseries"
        for t in p.get("targets", [])
        if "GROUP BY time(" in t["query"] and "non_negative_difference" not in t["query"] and "__q" not in t["query"]
    }
    assert series_targets
    empty = [k for k in series_targets if not has_values(results[k])]
    assert not empty, f"{uid}: no 1-minute rollups behind {empty}"


@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_variable_queries_list_the_fleets_regions_and_departments(filled_influx: FilledInflux, uid: str) -> None:
    board = BOARDS[uid]
    found: dict[str, set[str]] = {}
    for var in board["templating"]["list"]:
        if var["type"] != "query" or var["name"] == "rp":
            continue
        q = interpolate(var["query"], {}, board, start_ms=0, end_ms=0, interval="1m")
        found[var["name"]] = {row[1] for s in run(filled_influx.url, filled_influx.database, q) for row in s["values"]}
    assert found["dept"] == {"water", "weather", "urban_management", "traffic"}
    dept = next(v for v in board["templating"]["list"] if v["name"] == "dept")["current"]["value"]
    tags = [
        d.tags
        for view in filled_influx.data.registry.snapshot().nodes.values()
        for d in view.devices.values()
        if dept == ["$__all"] or d.tags["dept"] in dept
    ]
    assert found["town"] == {t["town"] for t in tags}  # the department's towns only
    assert found["village"] == {t["village"] for t in tags if "village" in t}


def test_the_water_board_shows_the_gauges_that_timed_out(filled_influx: FilledInflux) -> None:
    board = BOARDS["citysense-water"]
    results = _run_board(filled_influx, board, {}, "10m")
    bad = next(v for (title, _), v in results.items() if "bad quality" in title)
    assert {s["tags"]["device"] for s in bad} == {"GZ-WG-0001.level"}


def test_generated_files_are_the_ones_tested(tmp_path: Path) -> None:
    assert all(BOARDS[u]["uid"] == u for u in BOARDS)


@pytest.mark.parametrize(
    ("span_h", "res", "want"),
    [(2, "auto", "raw"), (48, "auto", "raw"), (7 * 24, "auto", "m1"), (90 * 24, "auto", "h1"), (2, "h1", "h1"),
     (90 * 24, "raw", "raw")],
)  # fmt: skip
def test_the_resolution_follows_the_range_as_the_hubs_api_does(
    filled_influx: FilledInflux, span_h: int, res: str, want: str
) -> None:
    board = BOARDS["citysense-water"]
    end_ms = filled_influx.data.end_ms
    start_ms = end_ms - span_h * 3_600_000
    got = resolve_query_variable(
        filled_influx.url, filled_influx.database, board, "rp", {"res": [res]},
        start_ms=start_ms, end_ms=end_ms, interval="1m",
    )  # fmt: skip
    assert got == [want]
    if res == "auto":
        assert want == choose_resolution(start_ms, end_ms, end_ms, RetentionSettings())
