"""A broken profile is refused with a message that names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from citysense.errors import ConfigError
from citysense.profiles import load_profile

GOOD = """\
id: {id}
model: Gauge
manufacturer: Test
source: the manual
category: water
points:
  - {{metric: level, table: holding, address: 0, type: float32, unit: m}}
"""


def _write(tmp_path: Path, text: str, name: str = "gauge") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def _error(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        load_profile(_write(tmp_path, text))
    return err.value


def test_good_profile_loads(tmp_path: Path) -> None:
    assert load_profile(_write(tmp_path, GOOD.format(id="gauge"))).point("level").register_count == 2


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        (("unit: m", "unit: m, scael: 2"), "points.0.scael", "unknown key"),
        (("source: the manual", "source: the manual\nvendor: x"), "vendor", "unknown key"),
        (("type: float32", "type: float33"), "points.0.type", "float33"),
        (("address: 0", "address: 65535"), "points.0.address", "run past 65535"),
        (("address: 0", "address: zero"), "points.0.address", "integer"),
        (("table: holding", "table: coil"), "points.0", "type must be 'bool'"),
        (("unit: m", "unit: m, range: [10, 1]"), "points.0", "exceeds maximum"),
        (("unit: m", "unit: m, enum: {0: a}"), "points.0", "'enum' maps integer states"),
    ],
)
def test_broken_profile_names_file_and_key(tmp_path: Path, change: tuple[str, str], key: str, words: str) -> None:
    err = _error(tmp_path, GOOD.format(id="gauge").replace(*change))
    assert err.path.endswith("gauge.yaml")
    assert any(k == key and words in msg for k, msg in err.problems), err.problems
    assert "gauge.yaml" in str(err) and key in str(err)


def test_overlapping_points_are_refused(tmp_path: Path) -> None:
    text = GOOD.format(id="gauge") + "  - {metric: flow, table: holding, address: 1, type: uint16}\n"
    err = _error(tmp_path, text)
    assert any("'level' and 'flow' overlap" in msg for _, msg in err.problems)


def test_file_name_must_match_id(tmp_path: Path) -> None:
    err = _error(tmp_path, GOOD.format(id="other"))
    assert err.problems == [("id", "'other' must equal the file name 'gauge'")]


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    err = _error(tmp_path, "id: [unclosed\n")
    assert "line" in err.problems[0][0] and "invalid YAML" in err.problems[0][1]
