"""Air models: the environment box on a smart pole and the village weather station.

Gaozhou is subtropical: about 16 °C in January and 29 °C in July, humid,
with monsoon winds from the south-east in summer; afternoons are warm, nights
humid, and rain comes in bursts (see :func:`simulator.waveforms.rain_pattern`).
"""

from __future__ import annotations

import math

from simulator.models.base import DeviceState, ValueModel, Values
from simulator.waveforms import (
    daylight,
    diurnal,
    local_hour,
    rain_pattern,
    season,
    smooth_noise,
    traffic_demand,
)

BEAUFORT_M_S = (0.3, 1.6, 3.4, 5.5, 8.0, 10.8, 13.9, 17.2, 20.8, 24.5, 28.5, 32.7, 37.0, 41.5, 46.2, 51.0, 56.1)


def air_temperature(t: float, seed: int) -> float:
    """Return the air temperature (°C): season, a daily curve peaking at 14:30, weather drift."""
    return 22.5 + 6.5 * season(t) + 4.5 * diurnal(t, 14.5) + 1.5 * smooth_noise(seed, "temp", t, 5400.0)


def relative_humidity(t: float, seed: int, temperature: float, rain_mm_min: float) -> float:
    """Return relative humidity (%): low when the afternoon is warm, near saturation in rain."""
    daily_mean = 22.5 + 6.5 * season(t)
    rh = 76.0 - 3.2 * (temperature - daily_mean) + 5.0 * smooth_noise(seed, "rh", t, 3600.0)
    rh += 25.0 * min(1.0, rain_mm_min / 0.5)
    return min(99.0, max(20.0, rh))


def pressure_kpa(t: float, seed: int) -> float:
    """Return station pressure (kPa): lower in the summer monsoon, with the 12-hour atmospheric tide."""
    tide = 0.12 * math.cos((local_hour(t) - 10.0) / 12.0 * 2 * math.pi)  # peaks near 10:00 and 22:00
    return 100.9 - 0.5 * season(t) + tide + 0.25 * smooth_noise(seed, "p", t, 21600.0)


class EnvironmentBox(ValueModel):
    """A louver box on a street pole: air, traffic noise, particulates, light."""

    def values(self, t: float, seed: int, state: DeviceState) -> Values:
        """Return the box's readings at ``t``."""
        rain = rain_pattern(seed).intensity(t)
        temp = air_temperature(t, seed)
        traffic = traffic_demand(t)
        # Particulates build up under the night-time inversion and with traffic; rain washes them out.
        pm25 = (18.0 + 14.0 * diurnal(t, 6.0) + 10.0 * traffic + 6.0 * smooth_noise(seed, "pm", t, 2700.0)) * (
            0.4 if rain > 0.05 else 1.0
        )
        pm25 = max(3.0, pm25)
        clouds = 0.6 + 0.4 * smooth_noise(seed, "cloud", t, 1200.0)
        return {
            "air_temperature": temp,
            "humidity": relative_humidity(t, seed, temp, rain),
            "noise": 42.0 + 24.0 * traffic + 2.0 * smooth_noise(seed, "db", t, 60.0),
            "pm25": pm25,
            "pm10": pm25 * 1.7 + 4.0,
            "pressure": pressure_kpa(t, seed),
            "illuminance": 110_000.0 * daylight(t) * max(0.1, clouds),
        }


class WeatherStation(ValueModel):
    """An ultrasonic all-in-one station: gusty wind, air, rain."""

    def values(self, t: float, seed: int, state: DeviceState) -> Values:
        """Return the station's readings at ``t``."""
        rain = rain_pattern(seed)
        intensity = rain.intensity(t)
        mean_wind = 2.4 + 1.4 * diurnal(t, 15.0) + 1.3 * smooth_noise(seed, "wind", t, 1800.0)
        gust = 7.0 * max(0.0, smooth_noise(seed, "gust", t, 6.0)) ** 3  # short gusts, a few a minute
        speed = max(0.0, mean_wind + gust + 0.4 * smooth_noise(seed, "turb", t, 2.0))
        prevailing = 90.0 + 45.0 * season(t)  # north-east monsoon in winter, south-east in summer
        direction = (
            prevailing + 50.0 * smooth_noise(seed, "dir", t, 1500.0) + 12.0 * smooth_noise(seed, "veer", t, 8.0)
        ) % 360
        temp = air_temperature(t, seed)
        return {
            "wind_speed": speed,
            "wind_force": sum(speed >= v for v in BEAUFORT_M_S),
            "wind_sector": int(((direction + 22.5) % 360) // 45),
            "wind_direction": int(direction) % 360,
            "air_temperature": temp,
            "humidity": relative_humidity(t, seed, temp, intensity),
            "pressure": pressure_kpa(t, seed),
            "rain_1h": rain.depth(t) - rain.depth(t - 3600.0),
            "rain_total": 1800.0 + 17.0 * (seed % 13) + rain.depth(t),
        }
