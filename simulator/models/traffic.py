"""Traffic model: a four-stage signal controller with time-of-day plans and stop-line detectors.

Stages run as on Chinese intersections (GB 14886): green, 3 s flashing green,
3 s yellow, 2 s all red, then the next stage. Pedestrian groups walk with the
parallel through movement and start flashing 3 s before its green ends.
"""

from __future__ import annotations

import math

from simulator.models.base import DeviceState, ValueModel, Values
from simulator.waveforms import local_hour, smooth_noise, traffic_demand, unit_hash

OFF, RED, YELLOW, GREEN, FLASHING_GREEN, FLASHING_YELLOW, FLASHING_RED = range(7)
FIXED_TIME, ACTUATED, MODE_FLASHING_YELLOW, MODE_ALL_RED, MODE_LAMPS_OFF, COORDINATED = range(6)

# Time-of-day plan table: (from hour, plan number, cycle length in s).
PLANS = ((0.0, 1, 80), (6.5, 2, 140), (9.5, 3, 110), (16.5, 4, 150), (19.5, 5, 100))
# Stages in order: (vehicle group, pedestrian group or 0, share of the green time).
STAGES = ((1, 5, 0.35), (2, 0, 0.15), (3, 6, 0.35), (4, 0, 0.15))
INTERGREEN_S = 8  # flashing green 3 + yellow 3 + all red 2
VEHICLE_GROUPS = (1, 2, 3, 4)
PEDESTRIAN_GROUPS = (5, 6)
DETECTOR_PEAK_VEH_MIN = (16.0, 6.0, 13.0, 5.0)  # N-S through, N-S left, E-W through, E-W left


def plan_at(t: float) -> tuple[int, int]:
    """Return ``(plan number, cycle length s)`` in force at ``t``."""
    h = local_hour(t)
    plan, cycle = PLANS[0][1], PLANS[0][2]
    for start, number, length in PLANS:
        if h >= start:
            plan, cycle = number, length
    return plan, cycle


def _cycle_states(second: int, cycle: int) -> dict[int, int]:
    """Return the state of every signal group at ``second`` of a cycle of ``cycle`` seconds."""
    states = dict.fromkeys(VEHICLE_GROUPS + PEDESTRIAN_GROUPS, RED)
    green_pool = cycle - INTERGREEN_S * len(STAGES)
    start = 0
    for vehicle, pedestrian, share in STAGES:
        green = round(green_pool * share)
        s = second - start
        if 0 <= s < green + INTERGREEN_S:
            if s < green:
                states[vehicle] = GREEN
            elif s < green + 3:
                states[vehicle] = FLASHING_GREEN
            elif s < green + 6:
                states[vehicle] = YELLOW
            if pedestrian:
                if s < green - 3:
                    states[pedestrian] = GREEN
                elif s < green + 3:
                    states[pedestrian] = FLASHING_GREEN
        start += green + INTERGREEN_S
    return states


def _door_open(t: float, seed: int) -> bool:
    """Return True during a 5-minute maintenance visit that happens in some 8-hour windows."""
    window = math.floor(t / 28800)
    if unit_hash(seed, "visit", window) < 0.3:
        return False
    opens = window * 28800 + (unit_hash(seed, "visit-at", window) + 1) / 2 * (28800 - 300)
    return opens <= t < opens + 300


class SignalController(ValueModel):
    """A signal controller behind its monitoring gateway; writing ``mode`` changes what the lamps do."""

    def values(self, t: float, seed: int, state: DeviceState) -> Values:
        """Return lamp states, plan, detector counts and faults at ``t``."""
        mode = int(state.written.get("mode", ACTUATED))
        plan, cycle = plan_at(t)
        offset = (seed * 17) % cycle  # coordination offset: neighbouring intersections differ
        second = int(t + offset) % cycle
        if mode == MODE_FLASHING_YELLOW:
            states = {g: FLASHING_YELLOW for g in VEHICLE_GROUPS} | {g: OFF for g in PEDESTRIAN_GROUPS}
        elif mode == MODE_ALL_RED:
            states = {g: RED for g in VEHICLE_GROUPS + PEDESTRIAN_GROUPS}
        elif mode == MODE_LAMPS_OFF:
            states = {g: OFF for g in VEHICLE_GROUPS + PEDESTRIAN_GROUPS}
        else:
            states = _cycle_states(second, cycle)
        out: Values = {f"sg{g}_state": s for g, s in states.items()}
        out |= {"mode": mode, "plan": plan, "cycle_length": cycle, "cycle_second": second}
        demand = traffic_demand(t)
        for i, peak in enumerate(DETECTOR_PEAK_VEH_MIN, start=1):
            scale = 0.85 + 0.05 * (seed % 7)
            volume = max(0, round(peak * scale * demand * (1 + 0.15 * smooth_noise(seed, f"det{i}", t, 90.0))))
            # About 1.1 s over the loop per vehicle, plus standing queues once demand nears capacity.
            occupancy = min(100.0, volume * 1.1 / 60 * 100 + 25.0 * max(0.0, demand - 0.8))
            out[f"det{i}_volume"] = volume
            out[f"det{i}_occupancy"] = occupancy
        out |= {
            "fault_conflict": False,
            "fault_red_lamp": False,
            "fault_green_lamp": False,
            "fault_detector": False,
            "fault_power": False,
            "fault_door": _door_open(t, seed),
            "controller_serial": f"GZTS{seed % 10_000:04d}",
        }
        return out
