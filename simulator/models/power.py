"""Power models: an LED street light with its controller, and the meters of poles and cabinets."""

from __future__ import annotations

import math

from simulator.models.base import DeviceState, ValueModel, Values
from simulator.waveforms import NIGHT, DailySchedule, diurnal, sine_integral, smooth_noise

KWH = 3.6e6  # joules (watt-seconds) per kWh
STANDBY_W = 0.6  # controller and driver with the relay open
# Midnight dimming, common on Chinese city streets: full power in the evening, 60 % from 23:00 to 05:00.
DIM_PLAN = DailySchedule(((0.0, 60.0), (5.0, 100.0), (23.0, 60.0)))
SCREEN = DailySchedule(((0.0, 0.0), (7.0, 1.0), (23.0, 0.0)))  # a pole's LED information screen


def _mains_voltage(t: float, seed: int, key: str = "v") -> float:
    """Return an L-N voltage near 220 V: higher at night when the feeder is lightly loaded."""
    return 220.0 + 3.0 * diurnal(t, 3.0) + 2.5 * smooth_noise(seed, key, t, 300.0)


class StreetLight(ValueModel):
    """An LED lamp that burns from sunset to sunrise, dimmed after 23:00; writes override both."""

    counters = frozenset({"energy", "run_hours"})

    def values(self, t: float, seed: int, state: DeviceState) -> Values:
        """Return relay, dimming, metering and status of the lamp at ``t``."""
        rated_w = 90.0 + 15.0 * (seed % 5)
        written = state.written
        on_plan = DailySchedule.constant(1.0 if written["lamp_on"] else 0.0) if "lamp_on" in written else NIGHT
        dim_plan = DailySchedule.constant(float(written["dim_level"])) if "dim_level" in written else DIM_PLAN
        load_plan = on_plan.times(dim_plan)  # percent of rated power

        def joules(a: float, b: float) -> float:
            return STANDBY_W * max(0.0, b - a) + rated_w / 100 * load_plan.integral(a, b)

        lamp_on = on_plan.level(t) > 0
        dim = dim_plan.level(t)
        power = STANDBY_W + (rated_w * dim / 100 if lamp_on else 0.0)
        voltage = _mains_voltage(t, seed)
        pf = 0.96 if power > 5 else 0.35
        ambient = 26.0 + 5.0 * diurnal(t, 14.5)
        return {
            "lamp_on": lamp_on,
            "dim_level": dim,
            "voltage": voltage,
            "current": power / (voltage * pf),
            "power": power,
            "power_factor": pf,
            "energy": state.counter("energy", 400.0 + 37.0 * (seed % 11), lambda a, b: joules(a, b) / KWH, t),
            "run_hours": math.floor(
                state.counter("run_hours", 6000.0 + 211.0 * (seed % 7), lambda a, b: on_plan.integral(a, b) / 3600, t)
            ),
            "driver_temperature": ambient + power * 0.12,
            "fault_lamp": False,
            "fault_over_voltage": voltage > 253.0,  # GB/T 12325: +10 % of 230 V
            "fault_under_voltage": voltage < 187.0,
            "fault_over_current": False,
            "fault_relay": False,
            "firmware": f"V2.3.{seed % 10}",
        }


class PoleMeter(ValueModel):
    """The single-phase supply of a smart pole: camera, Wi-Fi, 5G small cell, screen by day, lamp by night."""

    counters = frozenset({"energy_import", "energy_export"})

    def values(self, t: float, seed: int, state: DeviceState) -> Values:
        """Return the meter's instantaneous values and registers at ``t``."""
        scale = 0.8 + 0.1 * (seed % 5)
        base_w, screen_w, lamp_w, ripple_w = 150.0 * scale, 160.0 * scale, 1.2 * scale, 6.0
        lamp = NIGHT.times(DIM_PLAN)
        phase = float(seed % 7)

        def joules(a: float, b: float) -> float:
            return (
                base_w * max(0.0, b - a)
                + screen_w * SCREEN.integral(a, b)
                + lamp_w * lamp.integral(a, b)
                + sine_integral(ripple_w, 600.0, phase, a, b)
            )

        power = (
            base_w
            + screen_w * SCREEN.level(t)
            + lamp_w * lamp.level(t)
            + ripple_w * math.sin(2 * math.pi * t / 600 + phase)
        )
        pf = 0.93 + 0.03 * smooth_noise(seed, "pf", t, 900.0)
        voltage = _mains_voltage(t, seed)
        return {
            "voltage": voltage,
            "current": power / (voltage * pf),
            "active_power": power,
            "reactive_power": power * math.tan(math.acos(pf)),
            "power_factor": pf,
            "frequency": 50.0 + 0.03 * smooth_noise(seed, "hz", t, 20.0),
            "energy_import": state.counter(
                "energy_import", 1500.0 + 97.0 * (seed % 13), lambda a, b: joules(a, b) / KWH, t
            ),
            "energy_export": state.counter("energy_export", 0.0, lambda a, b: 0.0, t),
        }


class CabinetMeter(ValueModel):
    """The three-phase supply of a signal cabinet: LED signal heads, controller, cameras, detectors."""

    counters = frozenset({"energy_import", "energy_export"})
    SHARES = (0.42, 0.33, 0.25)  # signal heads sit on L1, cameras on L2, the rest on L3

    def values(self, t: float, seed: int, state: DeviceState) -> Values:
        """Return per-phase voltages and currents, totals and registers at ``t``."""
        base_w = 380.0 + 40.0 * (seed % 4)
        ripple_w, phase = 25.0, float(seed % 5)

        def joules(a: float, b: float) -> float:
            return base_w * max(0.0, b - a) + sine_integral(ripple_w, 120.0, phase, a, b)

        power = base_w + ripple_w * math.sin(2 * math.pi * t / 120 + phase)  # follows the signal cycle
        pf = 0.90 + 0.04 * smooth_noise(seed, "pf", t, 600.0)
        out: Values = {
            "active_power": power,
            "power_factor": pf,
            "frequency": 50.0 + 0.03 * smooth_noise(seed, "hz", t, 20.0),
            "energy_import": state.counter(
                "energy_import", 8000.0 + 331.0 * (seed % 9), lambda a, b: joules(a, b) / KWH, t
            ),
            "energy_export": state.counter("energy_export", 0.0, lambda a, b: 0.0, t),
            "serial_number": 7_300_000 + seed % 100_000,
            "firmware": "1.0.9",
            "type_designation": "B23",
        }
        for i, share in enumerate(self.SHARES, start=1):
            voltage = _mains_voltage(t, seed, f"v{i}")
            out[f"voltage_l{i}"] = voltage
            out[f"current_l{i}"] = power * share / (voltage * pf)
        return out
