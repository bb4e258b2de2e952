"""Counters of the ingest path (exported on ``/metrics`` and ``/api/v1/health``)."""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

WRITE_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class IngestStats:
    """Monotonic counters since the hub started."""

    messages: int = 0
    batches: int = 0
    readings_stored: int = 0
    duplicates: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    store_retries: int = 0
    status_messages: int = 0
    lag_ms: int = 0  # hub time minus the agent's sent_ms, of the last batch
    write_bucket_counts: list[int] = field(default_factory=lambda: [0] * (len(WRITE_BUCKETS_S) + 1))
    write_seconds_sum: float = 0.0

    def observe_write(self, seconds: float) -> None:
        """Count one store write of ``seconds`` in the latency histogram."""
        self.write_bucket_counts[bisect.bisect_left(WRITE_BUCKETS_S, seconds)] += 1
        self.write_seconds_sum += seconds
