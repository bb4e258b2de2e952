"""Counters of the station gateway (exported on ``/metrics`` as ``citysense_station_*``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric


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

    def prometheus(self) -> Iterator[Metric]:
        """The gateway's series for ``/metrics`` (hub/api/promexport.py collects them at each scrape)."""
        frames = CounterMetricFamily(
            "citysense_station_frames", "Station frames received, by protocol.", labels=["protocol"]
        )
        for protocol, n in sorted(self.frames.items()):
            frames.add_metric([protocol], n)
        yield frames
        refused = CounterMetricFamily(
            "citysense_station_refusals", "Station frames refused, by reason.", labels=["reason"]
        )
        for reason, n in sorted(self.refusals.items()):
            refused.add_metric([reason], n)
        yield refused
        for name, doc, value in (
            ("citysense_station_reports", "Station reports stored.", self.reports),
            ("citysense_station_duplicates", "Re-sent reports stored once.", self.duplicates),
            ("citysense_station_readings", "Station readings stored.", self.readings_stored),
            ("citysense_station_idle_timeouts", "Idle connections closed.", self.idle_timeouts),
            ("citysense_station_polls", "DTU Modbus requests answered.", self.polls),
        ):
            yield CounterMetricFamily(name, doc, value=value)
        yield GaugeMetricFamily(
            "citysense_station_connections", "Open station connections.", value=self.connections_open
        )
