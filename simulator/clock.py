"""Time helpers of the value models (the city runs on UTC+8)."""

from __future__ import annotations

import math

CST_OFFSET_S = 8 * 3600


def hour_of_day(t: float) -> float:
    """Local (China Standard Time) hour of day, 0 <= h < 24."""
    return ((t + CST_OFFSET_S) % 86400) / 3600


def day_number(t: float) -> int:
    """Local day number since the epoch."""
    return int((t + CST_OFFSET_S) // 86400)


def diurnal(t: float, peak_hour: float = 14.0) -> float:
    """A daily cosine, +1 at ``peak_hour`` and -1 twelve hours later."""
    return math.cos((hour_of_day(t) - peak_hour) / 24 * 2 * math.pi)


def daylight(t: float) -> float:
    """0 at night, rising to 1 at solar noon (sunrise 06:30, sunset 18:30)."""
    h = hour_of_day(t)
    if not 6.5 <= h <= 18.5:
        return 0.0
    return math.sin((h - 6.5) / 12 * math.pi)


def is_night(t: float) -> bool:
    """True while street lights should burn."""
    return daylight(t) == 0.0


def rain_rate_mm_per_min(t: float, seed: int) -> float:
    """Rain intensity: bursts of 12 minutes every 40 minutes, stronger some hours than others."""
    period = 40 * 60
    phase = (t + seed * 431) % period
    if phase > 12 * 60:
        return 0.0
    storm = 0.5 + 0.5 * math.sin(t / 5400 + seed)  # slow storm envelope, 0..1
    return round(1.5 * storm * math.sin(phase / (12 * 60) * math.pi), 1)
