"""Water models: a radar level gauge over a river and a tipping-bucket rain gauge.

The river rises with the rain that fell upstream in the last three hours and
with a flood wave that passes every two hours (a demo needs to see change),
rising faster than it recedes.
"""

from __future__ import annotations

import math

from simulator.models.base import DeviceState, ValueModel, Values
from simulator.waveforms import EPOCH, diurnal, flood_wave, local_midnight, rain_pattern, smooth_noise

TIP_MM = 0.1  # one tip of the bucket
HYDRO_DAY_START_H = 8.0  # Chinese hydrological and meteorological days run from 08:00 to 08:00


def river_level(t: float, seed: int) -> float:
    """Return the river stage (m above the gauge datum) at ``t``."""
    rain = rain_pattern(seed)
    recent_mm = rain.depth(t) - rain.depth(t - 3 * 3600.0)
    base = 2.0 + 0.5 * (seed % 4)
    return base + 2.4 * flood_wave(t, seed) + 0.03 * recent_mm + 0.01 * smooth_noise(seed, "ripple", t, 3.0)


class RadarLevel(ValueModel):
    """A radar gauge on a bridge, looking down at the water; level = min. adjustment - distance."""

    def values(self, t: float, seed: int, state: DeviceState) -> Values:
        """Return the gauge's measured values, diagnostics and settings at ``t``."""
        mounting_m = 12.0 + 0.5 * (seed % 3)  # sensor height above the gauge datum
        distance = mounting_m - river_level(t, seed)
        min_adjustment = float(state.written.get("min_adjustment", mounting_m))
        return {
            "status_pv_invalid": False,
            "status_sv_invalid": False,
            "pv_unit": 45,  # metres
            "water_level": min_adjustment - distance,
            "device_temperature": 27.0 + 7.0 * diurnal(t, 14.0) + 0.5 * smooth_noise(seed, "tc", t, 900.0),
            "diagnostic_code": 0,
            "air_distance": distance,
            "echo_amplitude": 62.0 + 4.0 * smooth_noise(seed, "echo", t, 120.0),
            "device_status": 0,
            "serial": f"{43_180_000 + seed % 10_000:08d}",
            "signal_quality": 38.0 + 3.0 * smooth_noise(seed, "sq", t, 120.0),
            "float_byte_order": 0,
            "min_adjustment": mounting_m,
            "max_adjustment": 0.5,
        }


class RainGauge(ValueModel):
    """A 0.1 mm tipping bucket whose counter the station clears at 08:00, or a client clears by writing 0."""

    counters = frozenset({"rainfall"})

    def values(self, t: float, seed: int, state: DeviceState) -> Values:
        """Return the tip counter, the retained total and the last minute's rain at ``t``."""
        rain = rain_pattern(seed)

        def tips(a: float, b: float) -> int:
            return math.floor(rain.depth(b) / TIP_MM + 1e-9) - math.floor(rain.depth(a) / TIP_MM + 1e-9)

        cleared = local_midnight(t - HYDRO_DAY_START_H * 3600) + HYDRO_DAY_START_H * 3600
        if state.since >= cleared and "rainfall" in state.carried:
            rainfall = state.carried["rainfall"] + TIP_MM * tips(state.since, t)
        else:
            rainfall = TIP_MM * tips(cleared, t)
        return {
            "rainfall": rainfall,
            "rain_total": 1500.0 + 11.0 * (seed % 17) + TIP_MM * tips(EPOCH, t),
            "rain_intensity": TIP_MM * tips(t - 60.0, t),
            "model_code": 3002,
        }
