"""The profiles and node kinds we ship load, cite their sources, and use what real devices use."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from citysense.codec import PACKED, DataType
from citysense.nodekinds import default_node_kind_dir, load_node_kinds
from citysense.profiles import ProfileSet, load_profiles
from citysense.profiles.loader import default_profile_dir
from citysense.profiles.model import Point, Profile
from simulator.registers import GAP_REGISTERS


@pytest.fixture(scope="module")
def profiles() -> ProfileSet:
    return load_profiles(default_profile_dir())


def _points(profiles: ProfileSet) -> list[tuple[Profile, Point]]:
    return [(prof, p) for prof in profiles.values() for p in prof.points]


def test_every_shipped_profile_and_node_kind_loads(profiles: ProfileSet) -> None:
    kinds = load_node_kinds(default_node_kind_dir(), set(profiles))
    assert set(kinds) == {"smart_pole", "water_gauge", "weather_station", "signal_cabinet"}
    # Field alternatives not (yet) on a shipped kind; tests/agent/test_profile_features.py polls them.
    alternatives = {"epever_tracer_an", "level_decimals_rs485"}
    used = {d.profile for k in kinds.values() for d in k.devices}
    assert used == set(profiles) - alternatives, "a shipped profile is unused"
    assert {k.kind: k.department for k in kinds.values()} == {
        "smart_pole": "urban_management",
        "water_gauge": "water",
        "weather_station": "weather",
        "signal_cabinet": "traffic",
    }
    assert all(c.type.value == "modbus_tcp" for k in kinds.values() for c in k.connections)


def test_profiles_cover_what_each_site_must_report(profiles: ProfileSet) -> None:
    metrics = {(prof.category, p.metric) for prof, p in _points(profiles)}
    for needed in [
        ("street_light_controller", "dim_level"),
        ("street_light_controller", "lamp_on"),
        ("street_light_controller", "energy"),
        ("energy_meter", "active_power"),
        ("energy_meter", "energy_import"),
        ("environment", "pm25"),
        ("environment", "noise"),
        ("water_level", "water_level"),
        ("water_level", "air_distance"),
        ("rain_gauge", "rainfall"),
        ("weather_station", "wind_speed"),
        ("weather_station", "wind_direction"),
        ("weather_station", "pressure"),
        ("weather_station", "rain_total"),
        ("traffic_signal", "sg1_state"),
        ("traffic_signal", "det1_volume"),
        ("traffic_signal", "det1_occupancy"),
        ("traffic_signal", "mode"),
        ("traffic_signal", "fault_door"),
    ]:
        assert needed in metrics, needed


def test_profiles_use_the_types_and_orders_real_devices_use(profiles: ProfileSet) -> None:
    points = _points(profiles)
    types = {p.type for _, p in points}
    assert set(DataType) - {DataType.INT64, DataType.FLOAT64} <= types
    float_orders = {
        (prof.byte_order(p).value, prof.word_order(p).value) for prof, p in points if p.type is DataType.FLOAT32
    }
    assert {("big", "big"), ("big", "little")} <= float_orders  # ABCD and CDAB
    assert any(p.enum for _, p in points) and any(p.bit is not None for _, p in points)
    assert any(p.sentinels for _, p in points)
    assert {prof.defaults.address_base for prof in profiles.values()} == {0, 1}


def test_only_settable_points_are_writable(profiles: ProfileSet) -> None:
    writable = {(prof.id, p.metric) for prof, p in _points(profiles) if p.writable}
    assert writable == {
        ("gz_slc_modbus", "lamp_on"),
        ("gz_slc_modbus", "dim_level"),
        ("radar_level_rs485", "min_adjustment"),
        ("radar_level_rs485", "max_adjustment"),
        ("tipping_bucket_rs485", "rainfall"),
        ("signal_ctrl_gw", "mode"),
        ("epever_tracer_an", "clock"),
        ("epever_tracer_an", "night_length"),
        ("epever_tracer_an", "load_on"),
        ("epever_tracer_an", "clear_energy"),
        ("level_decimals_rs485", "zero_offset"),
        ("level_decimals_rs485", "save_settings"),
        ("level_decimals_rs485", "factory_reset"),
    }


@pytest.mark.parametrize("path", sorted(default_profile_dir().glob("*.yaml")), ids=lambda p: p.stem)
def test_every_point_states_its_unit_and_valid_range(path: Path, profiles: ProfileSet) -> None:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if raw.get("protocol") == "dlt645":
        meter = profiles.meters[path.stem]
        assert len(meter.source) > 80, "say which manual, version and section the DI table comes from"
        for entry, mp in zip(raw["points"], meter.points, strict=True):
            assert "unit" in entry and mp.range is not None, mp.metric
        return
    profile = profiles[path.stem]
    assert len(profile.source) > 80, "say which manual, version and section the map comes from"
    assert 5 <= profile.expected_interval_s <= 3600
    assert profile.defaults.max_gap_registers <= GAP_REGISTERS  # the simulator serves the holes reads span
    for entry, point in zip(raw["points"], profile.points, strict=True):
        assert "unit" in entry or "unit_from" in entry, point.metric
        if point.type not in (DataType.BOOL, DataType.STRING, *PACKED) and point.enum is None:
            assert point.range is not None, point.metric


def test_packed_times_are_text_points_for_the_hub(profiles: ProfileSet) -> None:
    # The hub stores text and numbers apart (ingest type check, rollups, dashboards): a "11:30" must count as text.
    epever = profiles["epever_tracer_an"]
    assert {p.metric for p in epever.points if p.is_text} == {"clock", "night_length"}
