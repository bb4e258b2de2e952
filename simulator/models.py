"""Value models: the engineering values a simulated device shows at time ``t``.

A model is chosen by the profile's ``category``. Values only change when
``t`` moves forward, so a frozen clock gives a frozen device. Writable points
keep what a client wrote (the models read them back from ``state``).
"""

from __future__ import annotations

import math
import random

from citysense.profiles.model import Profile
from simulator import clock

Value = float | int | bool | str
Values = dict[str, Value]


class DeviceModel:
    """Generic model: every point sits in the middle of its range."""

    def __init__(self, profile: Profile, seed: int) -> None:
        self.profile = profile
        self.seed = seed
        self.variant = seed % 5  # small per-device offsets, so neighbouring devices differ a little
        self.rng = random.Random(seed)
        self.state: Values = {}
        self.last_t: float | None = None
        self._cached: Values = {}

    def write(self, metric: str, value: Value) -> None:
        """Keep a value a client wrote to a writable point."""
        self.state[metric] = value

    def values(self, t: float) -> Values:
        """Return every point's engineering value at ``t``."""
        if self.last_t is not None and t <= self.last_t and self._cached:
            out = dict(self._cached)  # the clock has not moved (or is frozen): the device has not changed
        else:
            dt = 0.0 if self.last_t is None else t - self.last_t
            self.last_t = t
            out = self.compute(t, dt)
            self._cached = dict(out)
        for p in self.profile.points:
            if p.metric in self.state:
                out[p.metric] = self.state[p.metric]
            elif p.metric not in out:
                out[p.metric] = _neutral(p.type.value, p.range, p.enum)
            if p.writable and p.metric not in self.state:
                self.state[p.metric] = out[p.metric]
        return out

    def compute(self, t: float, dt: float) -> Values:
        """Model-specific values; ``dt`` is the time since the last call."""
        return {}

    def noise(self, scale: float) -> float:
        """Small deterministic jitter."""
        return self.rng.uniform(-scale, scale)

    def accumulate(self, metric: str, start: float, increment: float) -> float:
        """Add ``increment`` to a running total kept in the model."""
        key = f"_{metric}"
        total = float(self.state.get(key, start)) + increment
        self.state[key] = total
        return total


def _neutral(dtype: str, rng: tuple[float, float] | None, enum: dict[int, str] | None) -> Value:
    if enum:
        return min(enum)
    if dtype == "bool":
        return False
    if dtype == "string":
        return "SIM"
    lo, hi = rng or (0.0, 100.0)
    mid = (lo + hi) / 2
    return round(mid) if dtype.startswith(("int", "uint")) else mid


class StreetLightModel(DeviceModel):
    """LED lamp on at night, dimmable; metering follows the dimming level."""

    def compute(self, t: float, dt: float) -> Values:
        lamp_on = bool(self.state.get("lamp_on", clock.is_night(t)))
        dim = float(self.state.get("dim_level", 80))
        voltage = 221.0 + 3 * math.sin(t / 600 + self.variant) + self.noise(0.3)
        power = 120.0 * dim / 100 + self.noise(0.5) if lamp_on and dim > 0 else 0.4
        pf = 0.95 if power > 1 else 0.5
        run_h = self.accumulate("run_hours", 8000 + 97 * self.variant, dt / 3600 if power > 1 else 0)
        return {
            "lamp_on": lamp_on,
            "voltage": round(voltage, 1),
            "power": round(power, 1),
            "power_factor": pf,
            "current": round(power / (voltage * pf), 3),
            "energy": round(self.accumulate("energy", 500.0 + 13 * self.variant, power * dt / 3.6e6), 2),
            "run_hours": int(run_h),
            "driver_temperature": round(24 + power / 8 + 4 * clock.diurnal(t), 1),
            "fault_lamp": False,
            "fault_over_voltage": voltage > 250,
            "fault_under_voltage": voltage < 180,
            "fault_over_current": False,
            "fault_relay": False,
            "firmware": "V2.3.1",
        }


class EnergyMeterModel(DeviceModel):
    """The pole's supply: lamp, camera, screen and radio, more at night."""

    def compute(self, t: float, dt: float) -> Values:
        watts = 65.0 + (110.0 if clock.is_night(t) else 20.0) + 10 * math.sin(t / 300 + self.variant) + self.noise(1)
        pf = 0.93
        voltage = 225.0 + 2 * math.sin(t / 900) + self.noise(0.2)
        apparent = watts / pf
        return {
            "voltage": voltage,
            "current": apparent / voltage,
            "active_power": watts,
            "reactive_power": math.sqrt(apparent**2 - watts**2),
            "apparent_power": apparent,
            "power_factor": pf,
            "frequency": 50.0 + self.noise(0.03),
            "energy_import": self.accumulate("energy", 1200.0 + 37 * self.variant, watts * dt / 3.6e6),
        }


class EnvironmentModel(DeviceModel):
    """Subtropical air: warm afternoons, humid nights, traffic noise by day."""

    def compute(self, t: float, dt: float) -> Values:
        temp = 23.0 + 5.5 * clock.diurnal(t) + self.variant * 0.3 + self.noise(0.2)
        pm25 = 30 + 12 * math.sin(t / 3600 + self.variant) + self.noise(2)
        return {
            "air_temperature": round(temp, 1),
            "humidity": round(min(99.0, 78 - 2.2 * (temp - 23)), 1),
            "noise": round(48 + 14 * clock.daylight(t) + self.noise(1.5), 1),
            "pm25": round(max(3.0, pm25)),
            "pm10": round(max(5.0, pm25 * 1.7)),
            "pressure": round(100.9 + 0.2 * math.sin(t / 43200), 1),
            "illuminance": round(85000 * clock.daylight(t)),
        }


class WaterLevelModel(DeviceModel):
    """A river with a flood wave every two hours (rising faster than it falls)."""

    def compute(self, t: float, dt: float) -> Values:
        phase = ((t + self.variant * 977) % 7200) / 7200
        wave = math.sin(math.pi * phase) ** 2 * (1.0 if phase < 0.5 else 0.8)
        base = 3.2 + 0.6 * self.variant
        level = round(base + 2.6 * wave + self.noise(0.005), 3)
        height = float(self.state.get("install_height", 14.0))
        return {
            "water_level": level,
            "air_distance": round(height - level, 3),
            "echo_strength": 62,
            "device_temperature": round(28 + 3 * clock.diurnal(t), 1),
            "status_no_echo": False,
            "status_low_supply": False,
        }


class RainGaugeModel(DeviceModel):
    """Tips of 0.1 mm during rain bursts; the counter restarts when a client writes 0."""

    def compute(self, t: float, dt: float) -> Values:
        rate = clock.rain_rate_mm_per_min(t, self.variant)
        tips = float(self.state.get("_tips_frac", 0.0)) + rate * dt / 60 / 0.1
        whole = int(tips)
        self.state["_tips_frac"] = tips - whole
        count = (int(self.state.get("tip_count", 0)) + whole) % 65536
        self.state["tip_count"] = count
        day = clock.day_number(t)
        if self.state.get("_day") != day:
            self.state["_day"], self.state["_today"] = day, 0.0
        today = float(self.state["_today"]) + whole * 0.1
        self.state["_today"] = today
        total = self.accumulate("total", 1500.0 + 11 * self.variant, whole * 0.1)
        return {"rain_1min": rate, "rain_today": round(today, 1), "rain_total": round(total, 1), "tip_count": count}


class WeatherStationModel(DeviceModel):
    """Wind with gusts, a daily temperature curve, rain bursts."""

    def compute(self, t: float, dt: float) -> Values:
        speed = max(0.0, 2.8 + 1.8 * math.sin(t / 1800 + self.variant) + abs(self.noise(1.2)))
        direction = int((135 + 60 * math.sin(t / 7200 + self.variant)) % 360)
        beaufort = sum(speed >= v for v in (0.3, 1.6, 3.4, 5.5, 8.0, 10.8, 13.9, 17.2, 20.8, 24.5, 28.5, 32.7))
        temp = 24.0 + 6 * clock.diurnal(t) + self.noise(0.2)
        rate = clock.rain_rate_mm_per_min(t, self.variant + 3)
        total = self.accumulate("total", 2100.0 + 17 * self.variant, rate * dt / 60)
        return {
            "wind_speed": round(speed, 2),
            "wind_force": beaufort,
            "wind_direction": direction,
            "wind_sector": int(((direction + 22.5) % 360) // 45),
            "air_temperature": round(temp, 1),
            "humidity": round(min(99.0, 80 - 2.0 * (temp - 24)), 1),
            "pressure": round(100.6 + self.noise(0.05), 1),
            "rain_1h": round(rate * 60 / 3, 1),
            "rain_total": round(total, 1),
        }


class SignalControllerModel(DeviceModel):
    """A 120 s fixed-time plan over four signal groups; mode writes take effect."""

    CYCLE_S = 120
    # (group, green start, green end) within the cycle; 3 s yellow follows each green.
    GREENS = ((1, 0, 40), (2, 45, 60), (3, 65, 105), (4, 110, 117))

    def compute(self, t: float, dt: float) -> Values:
        second = int(t) % self.CYCLE_S
        mode = int(self.state.get("mode", 0))
        out: Values = {"plan": 1, "cycle_length": self.CYCLE_S, "cycle_second": second, "mode": mode}
        for group, start, end in self.GREENS:
            if mode == 2:
                state = 4
            elif mode == 3:
                state = 1
            elif mode == 4:
                state = 0
            elif start <= second < end:
                state = 3
            elif end <= second < end + 3:
                state = 2
            else:
                state = 1
            out[f"sg{group}_state"] = state
        peak = 1.0 + 0.8 * math.exp(-(((clock.hour_of_day(t) - 8) / 1.5) ** 2))
        peak += 0.8 * math.exp(-(((clock.hour_of_day(t) - 18) / 1.5) ** 2))
        for det in range(1, 5):
            volume = max(0, round(9 * peak + 3 * math.sin(t / 240 + det) + self.noise(1)))
            out[f"det{det}_volume"] = volume
            out[f"det{det}_occupancy"] = round(min(100.0, volume * 1.9), 1)
        for fault in ("conflict", "red_lamp", "green_lamp", "detector", "power", "door"):
            out[f"fault_{fault}"] = False
        out["controller_serial"] = f"GZTS{self.variant:04d}"
        return out


MODELS: dict[str, type[DeviceModel]] = {
    "street_light_controller": StreetLightModel,
    "energy_meter": EnergyMeterModel,
    "environment": EnvironmentModel,
    "water_level": WaterLevelModel,
    "rain_gauge": RainGaugeModel,
    "weather_station": WeatherStationModel,
    "traffic_signal": SignalControllerModel,
}


def model_for(profile: Profile, seed: int) -> DeviceModel:
    """Return the model of ``profile``'s category (the generic one when unknown)."""
    return MODELS.get(profile.category, DeviceModel)(profile, seed)
