"""A periodic INFO line of what ingest did, instead of a line per store write.

Routine writes log at DEBUG (the store) and HTTP requests at WARNING only
(``httpx`` logs each request at INFO); every ``every_s`` this logs one line:
messages, readings stored, writes and their mean latency, duplicates, dead
letters and the spool depth since the previous line. Nothing is logged for
an interval in which nothing arrived.
"""

from __future__ import annotations

import asyncio
import logging

from citysense.runner import check_cancelled
from hub.ingest.spool import Spool
from hub.ingest.stats import IngestStats

log = logging.getLogger(__name__)
SUMMARY_EVERY_S = 60.0


def quiet_http_logs() -> None:
    """Keep ``httpx``'s per-request INFO lines out of the hub's log unless it runs at DEBUG."""
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logging.getLogger("httpx").setLevel(logging.WARNING)


async def log_summaries(stats: IngestStats, spool: Spool | None, every_s: float = SUMMARY_EVERY_S) -> None:
    """Log one summary line every ``every_s`` (run as a task)."""
    last = (0, 0, 0, 0.0, 0, 0)
    while True:
        check_cancelled(leaf=True)
        await asyncio.sleep(every_s)
        writes = sum(stats.write_bucket_counts)
        now = (
            stats.messages,
            stats.readings_stored,
            writes,
            stats.write_seconds_sum,
            stats.duplicates,
            sum(stats.dead_letters.values()),
        )
        messages, stored, n_writes, seconds, dupes, dead = (a - b for a, b in zip(now, last, strict=True))
        last = now
        if not messages:
            continue
        mean_ms = seconds / n_writes * 1000 if n_writes else 0.0
        log.info(
            "ingest, last %.0f s: %d messages, %d readings stored in %d writes (mean %.1f ms), "
            "%d duplicates, %d dead letters; spool holds %d readings",
            every_s,
            messages,
            stored,
            int(n_writes),
            mean_ms,
            dupes,
            dead,
            spool.readings if spool else 0,
        )
