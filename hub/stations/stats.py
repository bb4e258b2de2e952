"""Counters of the station gateway (exported on ``/metrics`` as ``citysense_station_*``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class GatewayStats:
    """Monotonic counters since the hub started, and the open connections now."""

    frames: Counter[str] = field(default_factory=Counter)  # by protocol: every frame, accepted or refused
    reports: int = 0
    controls: int = 0
    duplicates: int = 0  # re-sent reports stored once and confirmed again
    readings_stored: int = 0
    refusals: Counter[str] = field(default_factory=Counter)  # by reason
    connections_total: int = 0
    connections_open: int = 0
    idle_timeouts: int = 0
    polls: int = 0  # DTU Modbus requests answered
    poll_failures: int = 0

    def prometheus(self) -> list[tuple[str, str, str, list[tuple[str, int]]]]:
        """``(name, type, help, samples)`` for the metrics endpoint."""
        frames = [(f'{{protocol="{p}"}}', n) for p, n in sorted(self.frames.items())]
        refused = [(f'{{reason="{r}"}}', n) for r, n in sorted(self.refusals.items())]
        return [
            ("citysense_station_frames_total", "counter", "Station frames received, by protocol.", frames),
            ("citysense_station_reports_total", "counter", "Station reports stored.", [("", self.reports)]),
            ("citysense_station_duplicates_total", "counter", "Re-sent reports stored once.", [("", self.duplicates)]),
            ("citysense_station_readings_total", "counter", "Station readings stored.", [("", self.readings_stored)]),
            ("citysense_station_refusals_total", "counter", "Station frames refused, by reason.", refused),
            ("citysense_station_connections", "gauge", "Open station connections.", [("", self.connections_open)]),
            (
                "citysense_station_idle_timeouts_total",
                "counter",
                "Idle connections closed.",
                [("", self.idle_timeouts)],
            ),
            ("citysense_station_polls_total", "counter", "DTU Modbus requests answered.", [("", self.polls)]),
        ]
