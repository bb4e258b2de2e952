"""Pure building blocks of the value models: local time, seeded noise, daily schedules, rain.

Everything here is a function of time ``t`` (Unix seconds) and a seed, with no
state, so a frozen clock gives frozen values and two processes agree. Rates
come with their closed-form integrals, so counters computed from them
(energy, rainfall) only ever grow and never depend on how often they are read.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

CST_OFFSET_S = 8 * 3600  # China Standard Time, UTC+8 (no daylight saving)
DAY_S = 86400.0
EPOCH = 1_704_038_400.0  # 2024-01-01 00:00 CST: counters count from here unless a client rebased them


def local_hour(t: float) -> float:
    """Return the CST hour of day, 0 <= h < 24."""
    return ((t + CST_OFFSET_S) % DAY_S) / 3600


def local_midnight(t: float) -> float:
    """Return the Unix time of the CST midnight at or before ``t``."""
    return t - (t + CST_OFFSET_S) % DAY_S


def diurnal(t: float, peak_hour: float) -> float:
    """Return a daily cosine: +1 at ``peak_hour``, -1 twelve hours later."""
    return math.cos((local_hour(t) - peak_hour) / 24 * 2 * math.pi)


def daylight(t: float) -> float:
    """Return 0 at night, rising to 1 at solar noon (Gaozhou: sunrise ~06:20, sunset ~18:40)."""
    h = local_hour(t)
    if not 6.33 <= h <= 18.67:
        return 0.0
    return math.sin((h - 6.33) / 12.34 * math.pi)


def season(t: float) -> float:
    """Return -1 in mid-January (coldest) to +1 in mid-July (hottest)."""
    return -math.cos(2 * math.pi * ((t - EPOCH) / DAY_S - 15) / 365.25)


def traffic_demand(t: float) -> float:
    """Return road traffic relative to the evening peak: ~0.1 at night, ~1 at 08:00 and 18:00."""
    h = local_hour(t)
    return (
        0.1
        + 0.9 * math.exp(-(((h - 8.0) / 1.2) ** 2))
        + 0.4 * math.exp(-(((h - 13.0) / 3.0) ** 2))
        + 0.9 * math.exp(-(((h - 18.0) / 1.5) ** 2))
    )


def unit_hash(seed: int, key: str, n: int) -> float:
    """Return a deterministic pseudo-random number in [-1, 1) for ``(seed, key, n)``."""
    digest = hashlib.blake2b(f"{seed}:{key}:{n}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**63 - 1.0


def smooth_noise(seed: int, key: str, t: float, period_s: float) -> float:
    """Return noise in [-1, 1] that drifts smoothly, changing its mind every ``period_s``."""
    x = t / period_s
    n = math.floor(x)
    frac = x - n
    w = (1 - math.cos(frac * math.pi)) / 2  # cosine interpolation: no corners at the knots
    return unit_hash(seed, key, n) * (1 - w) + unit_hash(seed, key, n + 1) * w


def sine_integral(amplitude: float, period_s: float, phase: float, a: float, b: float) -> float:
    """Return the integral of ``amplitude * sin(2 pi t / period_s + phase)`` over ``[a, b]``."""
    w = 2 * math.pi / period_s
    return amplitude / w * (math.cos(w * a + phase) - math.cos(w * b + phase))


@dataclass(frozen=True)
class DailySchedule:
    """A level that is constant between CST clock times and repeats every day.

    ``steps`` are ``(hour, level)`` pairs sorted by hour; the first applies from
    midnight and each holds until the next; the last holds until midnight.
    """

    steps: tuple[tuple[float, float], ...]

    @staticmethod
    def constant(level: float) -> DailySchedule:
        """Return a schedule that is ``level`` all day."""
        return DailySchedule(((0.0, level),))

    def level(self, t: float) -> float:
        """Return the level in force at ``t``."""
        h = local_hour(t)
        current = self.steps[0][1]
        for hour, level in self.steps:
            if h >= hour:
                current = level
        return current

    def _day_integral(self, until_hour: float) -> float:
        """Return the integral in level-seconds from midnight to ``until_hour``."""
        total = 0.0
        bounds = [*self.steps[1:], (24.0, 0.0)]
        for (start, level), (end, _next) in zip(self.steps, bounds, strict=True):
            lo, hi = max(start, 0.0), min(end, until_hour)
            if hi > lo:
                total += (hi - lo) * 3600 * level
        return total

    def integral(self, a: float, b: float) -> float:
        """Return the integral in level-seconds over ``[a, b]`` (0 when ``b <= a``)."""
        if b <= a:
            return 0.0
        per_day = self._day_integral(24.0)

        def since_epoch(x: float) -> float:
            days = math.floor((x + CST_OFFSET_S) / DAY_S)
            return days * per_day + self._day_integral(local_hour(x))

        return since_epoch(b) - since_epoch(a)

    def times(self, other: DailySchedule) -> DailySchedule:
        """Return the product of two schedules (e.g. lamp on x dimming level)."""
        hours = sorted({h for h, _ in self.steps} | {h for h, _ in other.steps} | {0.0})
        midnight = EPOCH  # any CST midnight: levels only depend on the hour
        return DailySchedule(
            tuple((h, self.level(midnight + h * 3600) * other.level(midnight + h * 3600)) for h in hours)
        )


NIGHT = DailySchedule(((0.0, 1.0), (6.33, 0.0), (18.67, 1.0)))  # street lights burn sunset to sunrise


@dataclass(frozen=True)
class RainPattern:
    """Rain as bursts: one slot every ``slot_s``; a burst fills the first ``burst_s`` of its slot.

    ``peaks`` are peak intensities in mm/min of consecutive slots, repeating;
    zero peaks are dry slots. Within a burst the intensity is a half sine.
    """

    peaks: Sequence[float]
    slot_s: float = 2400.0
    burst_s: float = 720.0
    offset_s: float = 0.0

    def _burst_mm(self, peak: float) -> float:
        return 2 * peak * self.burst_s / 60 / math.pi

    def intensity(self, t: float) -> float:
        """Return the rain intensity in mm/min at ``t``."""
        slot, into = divmod(t + self.offset_s - EPOCH, self.slot_s)
        if into >= self.burst_s:
            return 0.0
        peak = self.peaks[int(slot) % len(self.peaks)]
        return peak * math.sin(into / self.burst_s * math.pi)

    def depth(self, t: float) -> float:
        """Return the rain depth in mm that fell from :data:`EPOCH` to ``t``."""
        slot, into = divmod(t + self.offset_s - EPOCH, self.slot_s)
        n = int(slot)
        cycle = sum(self._burst_mm(p) for p in self.peaks)
        full, rest = divmod(n, len(self.peaks))
        done = full * cycle + sum(self._burst_mm(p) for p in self.peaks[:rest])
        peak = self.peaks[rest]
        part = min(into, self.burst_s)
        depth = done + peak * self.burst_s / 60 / math.pi * (1 - math.cos(part / self.burst_s * math.pi))
        return round(depth, 6)  # the sums above differ in the last bit across slot edges; keep it monotonic


def rain_pattern(seed: int) -> RainPattern:
    """Return the seeded rain of one site: three showers in every twelve slots (eight hours).

    Wetter than Gaozhou's ~1,800 mm a year, so that a short demo sees rain.
    """
    peaks = [0.0] * 12
    for i in range(3):
        peaks[(seed * 5 + i * 4 + (i * seed) % 3) % 12] = round(0.6 + 0.4 * unit_hash(seed, "rain", i), 2)
    return RainPattern(peaks=tuple(peaks), offset_s=(seed * 613) % 2400)


def flood_wave(t: float, seed: int, period_s: float = 7200.0) -> float:
    """Return 0..1: a wave that rises over the first third of each period and recedes slowly."""
    phase = ((t + seed * 977) % period_s) / period_s
    if phase < 1 / 3:
        return math.sin(phase * 1.5 * math.pi) ** 2
    return math.exp(-(phase - 1 / 3) * 6) * (1 - (phase - 1 / 3) * 0.3)
