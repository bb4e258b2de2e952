"""``/metrics``: ingest counters in the Prometheus text exposition format (version 0.0.4)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from hub.api.deps import Services
from hub.ingest.stats import WRITE_BUCKETS_S

router = APIRouter(tags=["system"])


def _line(out: list[str], name: str, kind: str, help_: str, samples: Sequence[tuple[str, float]]) -> None:
    out.append(f"# HELP {name} {help_}")
    out.append(f"# TYPE {name} {kind}")
    out.extend(f"{name}{labels} {value}" for labels, value in samples)


@router.get("/metrics", response_class=PlainTextResponse, operation_id="getMetrics")
async def metrics(services: Services) -> str:
    """Expose ingest rate, lag, spool depth, dead letters by reason and store write latency."""
    s, spool = services.stats, services.spool
    out: list[str] = []
    _line(out, "citysense_messages_total", "counter", "MQTT messages received.", [("", s.messages)])
    _line(out, "citysense_batches_total", "counter", "Telemetry batches stored.", [("", s.batches)])
    _line(out, "citysense_readings_stored_total", "counter", "Readings stored.", [("", s.readings_stored)])
    _line(out, "citysense_duplicates_total", "counter", "Batches dropped as duplicates.", [("", s.duplicates)])
    dead = [(f'{{reason="{reason}"}}', n) for reason, n in sorted(s.dead_letters.items())]
    _line(out, "citysense_dead_letters_total", "counter", "Rejected messages/readings by reason.", dead)
    _line(out, "citysense_store_retries_total", "counter", "Store writes retried.", [("", s.store_retries)])
    _line(out, "citysense_ingest_lag_seconds", "gauge", "Hub time minus agent send time.", [("", s.lag_ms / 1000)])
    depth = [("", spool.readings if spool else 0)]
    _line(out, "citysense_spool_readings", "gauge", "Readings waiting in the on-disk spool.", depth)
    _line(out, "citysense_spool_batches", "gauge", "Batches in the spool.", [("", spool.batches if spool else 0)])
    spooled = [("", spool.spooled_total if spool else 0)]
    _line(out, "citysense_spooled_readings_total", "counter", "Readings ever spooled.", spooled)
    cumulative = 0
    hist: list[tuple[str, float]] = []
    for bound, n in zip((*WRITE_BUCKETS_S, float("inf")), s.write_bucket_counts, strict=True):
        cumulative += n
        hist.append((f'_bucket{{le="{"+Inf" if bound == float("inf") else bound}"}}', cumulative))
    hist += [("_sum", s.write_seconds_sum), ("_count", cumulative)]
    _line(out, "citysense_store_write_seconds", "histogram", "Store write latency.", hist)
    if services.station_stats is not None:
        for name, kind, help_, samples in services.station_stats.prometheus():
            _line(out, name, kind, help_, samples)
    return "\n".join(out) + "\n"
