"""The profiles and node kinds we ship load, cite their sources and fit together."""

from __future__ import annotations

from citysense.nodekinds import default_node_kind_dir, load_node_kinds
from citysense.profiles import load_profiles
from citysense.profiles.loader import default_profile_dir


def test_every_shipped_profile_and_node_kind_loads() -> None:
    profiles = load_profiles(default_profile_dir())
    kinds = load_node_kinds(default_node_kind_dir(), set(profiles))
    assert set(kinds) == {"smart_pole", "water_gauge", "weather_station", "signal_cabinet"}
    assert {d.profile for k in kinds.values() for d in k.devices} == set(profiles), "a shipped profile is unused"
    assert {k.department for k in kinds.values()} == {"urban_management", "water", "weather", "traffic"}


def test_profiles_cover_the_mission_metrics() -> None:
    profiles = load_profiles(default_profile_dir())
    metrics = {p.metric for prof in profiles.values() for p in prof.points}
    for needed in (
        "dim_level",
        "active_power",
        "pm25",
        "water_level",
        "rain_total",
        "wind_speed",
        "wind_direction",
        "pressure",
        "humidity",
        "air_temperature",
        "sg1_state",
        "det1_volume",
        "det1_occupancy",
    ):
        assert needed in metrics, needed


def test_profiles_use_the_orders_and_types_real_devices_use() -> None:
    profiles = load_profiles(default_profile_dir())
    points = [(prof, p) for prof in profiles.values() for p in prof.points]
    orders = {(prof.byte_order(p).value, prof.word_order(p).value) for prof, p in points if p.register_count > 1}
    assert ("big", "big") in orders and ("big", "little") in orders
    types = {p.type.value for _, p in points}
    assert {"int16", "uint16", "uint32", "float32", "bool", "string"} <= types
    assert any(p.enum for _, p in points) and any(p.bit is not None for _, p in points)
    assert any(p.writable for _, p in points) and any(p.sentinels for _, p in points)
    assert {prof.defaults.address_base for prof in profiles.values()} == {0, 1}
