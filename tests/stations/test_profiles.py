"""Station profiles are checked like device profiles and become device profiles of the hub."""

from __future__ import annotations

from pathlib import Path

import pytest

from citysense.errors import ConfigError
from citysense.profiles import load_profiles
from citysense.profiles.loader import default_profile_dir
from hub.stations.profiles import default_station_profile_dir, load_station_profiles, merged

GOOD = """
id: my_monitor
protocol: hj212
model: M
manufacturer: X
source: "HJ 212-2017 Annex B"
category: air_quality
elements:
  - {code: a34004, metric: pm2_5, unit: "μg/m³", range: [0, 1000]}
"""


def test_shipped_station_profiles_load_and_join_the_device_profiles() -> None:
    stations = load_station_profiles(default_station_profile_dir())
    assert {"hj212_air_quality", "hj212_water_quality", "hj212_noise"} <= set(stations)
    profiles = merged(load_profiles(default_profile_dir()), stations)
    air = profiles["hj212_air_quality"]
    metrics = {p.metric: p for p in air.points}
    assert metrics["pm2_5"].unit == "μg/m³" and metrics["pm2_5"].range == (0, 1000)
    assert {"pm2_5_hour_avg", "pm2_5_day_max", "pm2_5_min_cou"} <= set(metrics)
    assert metrics["pm2_5_min_cou"].range is None  # a count is not a concentration
    assert any(rule.id == "pm2_5_high" for rule in air.alerts)


def test_codes_resolve_to_metrics_by_field_and_window() -> None:
    sp = load_station_profiles(default_station_profile_dir())["hj212_water_quality"]
    resolved = {code: sp.metric_for(code, window) for code, window in [
        ("w01018-Rtd", ""), ("w01018-Avg", "hour"), ("w01018-Max", "day"), ("w01018-ZsRtd", ""), ("w99999-Rtd", ""),
    ]}  # fmt: skip
    assert {k: v[1] if v else None for k, v in resolved.items()} == {
        "w01018-Rtd": "cod", "w01018-Avg": "cod_hour_avg", "w01018-Max": "cod_day_max",
        "w01018-ZsRtd": None, "w99999-Rtd": None,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ("  - {code: a34004, metric: pm10}\n", "elements.1.code"),
        ("  - {code: a34002, metric: pm2_5}\n", "elements.1.metric"),
        ("  - {code: a34002, metric: pm10, range: [10, 1]}\n", "elements.1.range"),
    ],
)
def test_a_broken_profile_names_the_file_and_key(tmp_path: Path, change: str, key: str) -> None:
    (tmp_path / "my_monitor.yaml").write_text(GOOD + change)
    with pytest.raises(ConfigError) as err:
        load_station_profiles(tmp_path)
    assert any(key in k for k, _ in err.value.problems), err.value.problems


def test_a_profile_without_its_source_or_named_unlike_its_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "other_name.yaml").write_text(GOOD.replace('source: "HJ 212-2017 Annex B"\n', ""))
    with pytest.raises(ConfigError) as err:
        load_station_profiles(tmp_path)
    assert {k.split(": ")[-1] for k, _ in err.value.problems} >= {"source"}


def test_a_station_profile_may_not_take_a_device_profiles_id(tmp_path: Path) -> None:
    (tmp_path / "weather_6in1_rs485.yaml").write_text(GOOD.replace("id: my_monitor", "id: weather_6in1_rs485"))
    with pytest.raises(ConfigError):
        merged(load_profiles(default_profile_dir()), load_station_profiles(tmp_path))
