"""Rain bursts and the water level that follows them, for simulated SL 651 stations.

The rain rate of each minute is a pure function of the seed and the minute:
every hour rolls (with its own seeded generator) whether a burst falls in it,
when, how long and how hard. So the 5-minute rainfalls of any past hour (DRP)
and the level at any instant can be recomputed without keeping history.
"""

from __future__ import annotations

import math
import random

MINUTE_S = 60


class RainModel:
    """Rainfall (mm) and water level (m) of one site."""

    def __init__(self, seed: int, *, burst_chance: float = 0.5, base_level_m: float = 2.0) -> None:
        self.seed = seed
        self.burst_chance = burst_chance
        self.base_level_m = base_level_m
        self._bursts: dict[int, tuple[int, int, float]] = {}

    def _burst(self, hour: int) -> tuple[int, int, float]:
        known = self._bursts.get(hour)
        if known is not None:
            return known
        if len(self._bursts) > 64:
            self._bursts.clear()
        self._bursts[hour] = burst = self._roll(hour)
        return burst

    def _roll(self, hour: int) -> tuple[int, int, float]:
        rng = random.Random(f"{self.seed}:{hour}")
        if rng.random() >= self.burst_chance:
            return (0, 0, 0.0)
        start = rng.randrange(0, 50)
        return (start, start + rng.randrange(10, 40), rng.uniform(0.1, 1.5))

    def rate_mm_per_min(self, minute: int) -> float:
        """Rain in the minute ``minute`` (minutes since the epoch)."""
        start, end, peak = self._burst(minute // 60)
        offset = minute % 60
        if not start <= offset < end:
            return 0.0
        shape = math.sin(math.pi * (offset - start + 0.5) / (end - start))
        return round(peak * shape, 1)

    def rain_mm(self, start_s: float, end_s: float) -> float:
        """Rain fallen between two instants (whole minutes)."""
        first, last = int(start_s // MINUTE_S), int(end_s // MINUTE_S)
        return round(sum(self.rate_mm_per_min(m) for m in range(first, last)), 1)

    def five_minute(self, hour_end_s: float) -> list[float]:
        """The twelve 5-minute rainfalls of the hour ending at ``hour_end_s`` (DRP)."""
        return [self.rain_mm(hour_end_s - 3600 + 300 * k, hour_end_s - 3300 + 300 * k) for k in range(12)]

    def level_m(self, at_s: float) -> float:
        """Water level: the base plus a response to the last two hours of rain."""
        rise = 0.01 * self.rain_mm(at_s - 3600, at_s) + 0.004 * self.rain_mm(at_s - 7200, at_s - 3600)
        return round(self.base_level_m + rise, 3)
