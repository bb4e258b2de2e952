"""Counters of the ingest path (exported on ``/metrics`` and ``/api/v1/health``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


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
