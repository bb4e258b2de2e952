"""The value models behave like the things they simulate, and are pure functions of (time, seed, state)."""

from __future__ import annotations

import pytest

from simulator.models import MODELS, DeviceState
from simulator.models.traffic import FLASHING_GREEN, GREEN, RED, YELLOW, plan_at
from simulator.waveforms import NIGHT, DailySchedule, RainPattern, rain_pattern
from tests.simulator.conftest import NOON

HOUR = 3600.0
DAY = 86400.0
FRESH = DeviceState()


def series(category: str, metric: str, start: float, stop: float, step: float, seed: int = 1) -> list[float]:
    model = MODELS[category]
    out = []
    t = start
    while t <= stop:
        value = model.values(t, seed, FRESH)[metric]
        assert isinstance(value, int | float)
        out.append(float(value))
        t += step
    return out


@pytest.mark.parametrize("category", sorted(MODELS))
def test_models_are_pure_and_seeded(category: str) -> None:
    model = MODELS[category]
    assert model.values(NOON, 3, FRESH) == model.values(NOON, 3, FRESH)
    assert model.values(NOON, 3, FRESH) != model.values(NOON, 4, FRESH)


@pytest.mark.parametrize(
    ("category", "metric"),
    [
        ("energy_meter", "energy_import"),
        ("energy_meter_3p", "energy_import"),
        ("street_light_controller", "energy"),
        ("street_light_controller", "run_hours"),
        ("weather_station", "rain_total"),
        ("rain_gauge", "rain_total"),
    ],
)
def test_counters_never_run_backwards(category: str, metric: str) -> None:
    values = series(category, metric, NOON, NOON + 2 * DAY, 600.0)
    assert values == sorted(values)
    assert values[-1] > values[0]


def test_afternoon_is_warmer_and_drier_than_dawn() -> None:
    dawn, afternoon = NOON - 7 * HOUR, NOON + 2.5 * HOUR
    for category in ("environment", "weather_station"):
        model = MODELS[category]
        early, late = model.values(dawn, 2, FRESH), model.values(afternoon, 2, FRESH)
        assert late["air_temperature"] > early["air_temperature"] + 4  # type: ignore[operator]
        assert late["humidity"] < early["humidity"]  # type: ignore[operator]


def test_street_light_burns_at_night_and_dims_after_23() -> None:
    light = MODELS["street_light_controller"]
    day, evening, late = (light.values(NOON + h * HOUR, 1, FRESH) for h in (0, 9, 13))
    assert (day["lamp_on"], evening["lamp_on"], late["lamp_on"]) == (False, True, True)
    assert (evening["dim_level"], late["dim_level"]) == (100.0, 60.0)
    assert day["power"] < 1 < late["power"] < evening["power"]  # type: ignore[operator]


def test_rain_comes_in_bursts_and_the_counter_clears_at_eight() -> None:
    gauge = MODELS["rain_gauge"]
    intensities = series("rain_gauge", "rain_intensity", NOON, NOON + 8 * HOUR, 60.0)
    assert 0.0 in intensities and max(intensities) > 0.2
    before = gauge.values(NOON - 4 * HOUR - 60, 1, FRESH)["rainfall"]  # 07:59, end of the hydrological day
    after = gauge.values(NOON - 4 * HOUR + 60, 1, FRESH)["rainfall"]  # 08:01
    assert before > 1.0 > after  # type: ignore[operator]


def test_a_written_counter_restarts_from_the_written_value() -> None:
    gauge = MODELS["rain_gauge"]
    t = NOON + 6 * HOUR
    now = gauge.values(t, 1, FRESH)
    state = FRESH.after_write(t, "rainfall", 0.0, now, gauge.counters)
    assert gauge.values(t, 1, state)["rainfall"] == 0.0
    later = t + 2 * HOUR
    fell = gauge.values(later, 1, state)["rain_total"] - now["rain_total"]  # type: ignore[operator]
    assert gauge.values(later, 1, state)["rainfall"] == pytest.approx(fell)


def test_a_write_keeps_other_counters_continuous() -> None:
    light = MODELS["street_light_controller"]
    t = NOON + 10 * HOUR
    now = light.values(t, 1, FRESH)
    state = FRESH.after_write(t, "dim_level", 30, now, light.counters)
    assert light.values(t, 1, state)["energy"] == pytest.approx(now["energy"])
    assert light.values(t + HOUR, 1, state)["energy"] < light.values(t + HOUR, 1, FRESH)["energy"]  # type: ignore[operator]


def test_river_rises_and_falls_with_a_flood_wave() -> None:
    levels = series("water_level", "air_distance", NOON, NOON + 2 * HOUR, 60.0)
    assert max(levels) - min(levels) > 1.5  # metres


def test_wind_gusts_above_its_mean() -> None:
    speeds = series("weather_station", "wind_speed", NOON, NOON + 600, 1.0)
    mean = sum(speeds) / len(speeds)
    assert max(speeds) > mean + 2.0


def test_signal_groups_run_green_flashing_green_yellow_red_without_conflicts() -> None:
    controller = MODELS["traffic_signal"]
    _plan, cycle = plan_at(NOON)
    states = [controller.values(NOON + s, 1, FRESH) for s in range(cycle)]
    for states_at in states:
        greens = {g for g in (1, 2, 3, 4) if states_at[f"sg{g}_state"] in (GREEN, FLASHING_GREEN, YELLOW)}
        assert len(greens) <= 1, states_at  # one stage at a time: never two vehicle groups released
    for group in (1, 2, 3, 4):
        sequence = [s[f"sg{group}_state"] for s in states]
        runs = [a for a, b in zip(sequence, sequence[1:] + sequence[:1], strict=True) if a != b]
        start = runs.index(GREEN)
        assert runs[start:] + runs[:start] == [GREEN, FLASHING_GREEN, YELLOW, RED], group
        assert sequence.count(FLASHING_GREEN) == 3 and sequence.count(YELLOW) == 3


def test_flashing_yellow_mode_and_rush_hour_traffic() -> None:
    controller = MODELS["traffic_signal"]
    state = FRESH.after_write(NOON, "mode", 2, {}, controller.counters)
    assert {controller.values(NOON, 1, state)[f"sg{g}_state"] for g in (1, 2, 3, 4)} == {5}
    rush, night = controller.values(NOON - 4 * HOUR, 1, FRESH), controller.values(NOON - 9 * HOUR, 1, FRESH)
    assert rush["det1_volume"] > 3 * night["det1_volume"]  # type: ignore[operator]
    assert rush["det1_occupancy"] > night["det1_occupancy"]  # type: ignore[operator]


def test_schedule_integral_matches_a_numeric_sum() -> None:
    plan = NIGHT.times(DailySchedule(((0.0, 60.0), (5.0, 100.0), (23.0, 60.0))))
    a, b = NOON - 5 * HOUR + 17, NOON + 2 * DAY + 123
    numeric = sum(plan.level(a + i + 0.5) for i in range(int(b - a)))
    assert plan.integral(a, b) == pytest.approx(numeric, rel=1e-3)


def test_rain_depth_is_the_integral_of_intensity() -> None:
    rain: RainPattern = rain_pattern(5)
    a, b = NOON, NOON + 8 * HOUR
    numeric = sum(rain.intensity(a + i + 0.5) / 60 for i in range(int(b - a)))
    assert rain.depth(b) - rain.depth(a) == pytest.approx(numeric, rel=1e-3)
