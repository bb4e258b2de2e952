"""Report strategies per point: every poll, on change with deadband, change-or-heartbeat, aggregates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from citysense.contract import Reading
from citysense.errors import ConfigError
from citysense.profiles.model import ReportSpec
from edge_agent.config import load_agent_config
from edge_agent.report import Reporter
from tests.agent.support import write_site

T0 = 1_700_000_000_000


def series(values: list[Any], step_ms: int = 1000) -> list[Reading]:
    out = []
    for i, v in enumerate(values):
        quality = "timeout" if v is None else "good"
        out.append(Reading(device="d", metric="m", value=v, ts_ms=T0 + i * step_ms, quality=quality))
    return out


@pytest.mark.parametrize(
    ("spec", "values", "expected"),
    [
        pytest.param({}, [1, 1, 1], [(0, 1), (1, 1), (2, 1)], id="every-poll"),
        pytest.param({"mode": "on_change"}, [1, 1, 2, 2, 1], [(0, 1), (2, 2), (4, 1)], id="on-change"),
        pytest.param(
            {"mode": "on_change", "deadband": 0.5},
            [10.0, 10.3, 10.6, 10.2, 9.9],
            [(0, 10.0), (2, 10.6), (4, 9.9)],
            id="deadband",
        ),
        pytest.param(
            {"mode": "on_change"}, [5, None, None, 5], [(0, 5), (1, None), (3, 5)], id="quality-change-is-a-change"
        ),
        pytest.param(
            {"mode": "change_or_heartbeat", "heartbeat_s": 3},
            [7, 7, 7, 7, 7, 8],
            [(0, 7), (3, 7), (5, 8)],
            id="heartbeat",
        ),
        pytest.param(
            {"mode": "aggregate", "interval_s": 3, "aggregate": "sum"},
            [1, 2, 3, 4, 5, 6, 7],
            [(2, 6), (5, 15)],
            id="sum-rain-tips",
        ),
        pytest.param(
            {"mode": "aggregate", "interval_s": 3, "aggregate": "max"},
            [1, 9, 3, 4, 2, 6, 0],
            [(2, 9), (5, 6)],
            id="max",
        ),
        pytest.param(
            {"mode": "aggregate", "interval_s": 2, "aggregate": "mean"},
            [1, 3, 10, 20, 0],
            [(1, 2.0), (3, 15.0)],
            id="mean",
        ),
        pytest.param(
            {"mode": "aggregate", "interval_s": 2, "aggregate": "count"},
            [1, None, 2, 3, 4],
            [(1, None), (0, 1), (3, 2)],
            id="count-failure-not-hidden",
        ),
    ],
)
def test_report_strategy(spec: dict[str, Any], values: list[Any], expected: list[tuple[int, Any]]) -> None:
    reporter = Reporter({"m": ReportSpec.model_validate(spec)})
    got = reporter.filter(series(values))
    assert [((r.ts_ms - T0) // 1000, r.value) for r in got] == expected


def test_report_spec_checks_its_keys() -> None:
    with pytest.raises(ValueError, match="heartbeat_s"):
        ReportSpec.model_validate({"mode": "change_or_heartbeat"})
    with pytest.raises(ValueError, match="interval_s"):
        ReportSpec.model_validate({"mode": "aggregate", "aggregate": "sum"})


def test_device_report_override_naming_an_unknown_metric_is_a_config_error(tmp_path: Path) -> None:
    write_site(tmp_path)
    cfg = {
        "node_id": "N1",
        "profiles_dir": "profiles",
        "connections": [{"id": "bus", "type": "modbus_tcp", "host": "127.0.0.1", "port": 502}],
        "devices": [
            {"id": "c1", "profile": "test_counter", "connection": "bus", "unit_id": 1,
             "report": {"levle": {"mode": "on_change", "deadband": 0.01}}},
        ],
    }  # fmt: skip
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError) as err:
        load_agent_config(path)
    assert "devices.0.report.levle" in str(err.value) and "agent.yaml" in str(err.value)
