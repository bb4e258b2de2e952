"""Check a batch's readings against the registry and the profiles (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from citysense.contract import Reading, TelemetryBatch
from citysense.profiles import ProfileSet
from hub.registry.snapshot import NodeView
from hub.store.base import StoredReading

MAX_FUTURE_MS = 5 * 60 * 1000  # clocks drift; more than this is a broken clock
MAX_PAST_MS = 90 * 24 * 3600 * 1000  # older than the longest outage we buffer for


@dataclass(frozen=True, slots=True)
class Rejected:
    """A reading refused, with the reason code and detail."""

    reading: Reading
    reason: str
    detail: str


def check_batch(
    batch: TelemetryBatch, node: NodeView, profiles: ProfileSet, now_ms: int
) -> tuple[list[StoredReading], list[Rejected]]:
    """Split a batch into storable readings and rejected ones."""
    ok: list[StoredReading] = []
    bad: list[Rejected] = []
    for r in batch.readings:
        dev = node.devices.get(r.device)
        if dev is None:
            bad.append(Rejected(r, "unknown_device", f"node {node.id} has no device '{r.device}'"))
            continue
        profile = profiles.get(dev.profile)
        if profile is None or not any(p.metric == r.metric for p in profile.points):
            bad.append(Rejected(r, "unknown_metric", f"profile '{dev.profile}' has no metric '{r.metric}'"))
            continue
        if r.ts_ms > now_ms + MAX_FUTURE_MS:
            bad.append(Rejected(r, "future_timestamp", f"ts_ms {r.ts_ms} is ahead of hub time {now_ms}"))
            continue
        if r.ts_ms < now_ms - MAX_PAST_MS:
            bad.append(Rejected(r, "stale_timestamp", f"ts_ms {r.ts_ms} is older than {MAX_PAST_MS} ms"))
            continue
        value: float | str | None
        if isinstance(r.value, bool):
            value = 1.0 if r.value else 0.0
        elif isinstance(r.value, int | float):
            value = float(r.value)
        else:
            value = r.value
        ok.append(
            StoredReading(
                node=node.id,
                device=dev.uid,
                profile=dev.profile,
                metric=r.metric,
                value=value,
                unit=r.unit,
                ts_ms=r.ts_ms,
                quality=r.quality_code,
                tags=dev.tags,
            )
        )
    return ok, bad
