"""``/api/v1/readings``: a time range of many devices, aggregated in windows (mean, min, max, sum, last).

Devices are chosen by uid or by filters (region subtree, department, profile,
node) and paged by uid with a cursor. On InfluxDB with rollups the store reads
the resolution that fits the range (raw, 1-minute or 1-hour; see
docs/storage-schema.md) and the answer says which; windows are then computed
here over good numeric values, so every back end answers the same way.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import Callable, Sequence
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from citysense.quality import Quality
from hub.api.deps import Services
from hub.api.policy import ReadList
from hub.errors import NotFound
from hub.registry.access import Principal
from hub.registry.service import NodeFilter
from hub.store.base import StoredReading

router = APIRouter(prefix="/api/v1", tags=["readings"])
Agg = Literal["mean", "min", "max", "sum", "last"]
AGGREGATES: dict[str, Callable[[list[float]], float]] = {
    "mean": lambda v: sum(v) / len(v),
    "min": min,
    "max": max,
    "sum": sum,
    "last": lambda v: v[-1],
}


def windows(rows: Sequence[StoredReading], window_ms: int, agg: str) -> dict[str, list[tuple[int, float]]]:
    """Metric -> [(window start, aggregate)] over good numeric readings (rows ordered by time)."""
    acc: dict[str, dict[int, list[float]]] = {}
    for r in rows:
        if r.quality == Quality.GOOD and isinstance(r.value, float):
            acc.setdefault(r.metric, {}).setdefault(r.ts_ms - r.ts_ms % window_ms, []).append(r.value)
    fn = AGGREGATES[agg]
    return {m: [(t, fn(v)) for t, v in sorted(by_t.items())] for m, by_t in sorted(acc.items())}


async def _devices(
    services: Services,
    principal: Principal,
    device: list[str] | None,
    region: str | None,
    department: str | None,
    profile: str | None,
    node: str | None,
) -> list[tuple[str, str]]:
    """Return sorted ``(uid, profile)`` of the chosen devices in the caller's scope."""
    try:
        rows = await asyncio.to_thread(services.registry.list_devices, node, profile)
        if region is not None or department is not None or not principal.unscoped:
            flt = NodeFilter(
                region=region,
                department=department,
                within_regions=principal.regions,
                within_departments=principal.departments,
            )
            nodes = {n.id for n in await asyncio.to_thread(services.registry.list_nodes, flt)}
            rows = [d for d in rows if d.node_id in nodes]
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    wanted = set(device) if device else None
    return sorted((d.uid, d.profile) for d in rows if wanted is None or d.uid in wanted)


@router.get("/readings", operation_id="listReadings", response_model=None)
async def list_readings(
    services: Services,
    principal: ReadList,
    start_ms: Annotated[int, Query(ge=0, le=2**62)],
    end_ms: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    window_s: Annotated[int, Query(ge=1, le=31_536_000)] = 60,
    agg: Agg = "mean",
    metric: Annotated[list[str] | None, Query()] = None,
    device: Annotated[list[str] | None, Query()] = None,
    region: str | None = None,
    department: str | None = None,
    profile: str | None = None,
    node: str | None = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page (a device uid)")] = None,
    devices_per_page: Annotated[int, Query(ge=1, le=1000)] = 100,
    fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Response:
    """Return windowed aggregates per device and metric in ``[start_ms, end_ms)``."""
    now = time.time_ns() // 1_000_000
    end = end_ms if end_ms is not None else now + 1
    if start_ms >= end:
        raise HTTPException(400, "start_ms must be before end_ms")
    chosen = [
        d
        for d in await _devices(services, principal, device, region, department, profile, node)
        if cursor is None or d[0] > cursor
    ]
    page, more = chosen[:devices_per_page], len(chosen) > devices_per_page
    store, resolution = services.store, "raw"
    series: list[tuple[str, str, list[tuple[int, float]]]] = []
    for uid, prof in page:
        resolution, rows = await store.query_resolved(uid, prof, metric, start_ms, end, now, limit=1_000_000)
        series += [(uid, m, pts) for m, pts in windows(rows, window_s * 1000, agg).items()]
    next_cursor = page[-1][0] if more and page else None
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["device", "metric", "window_start_ms", agg])
        w.writerows([uid, m, t, v] for uid, m, pts in series for t, v in pts)
        headers = {"X-Next-Cursor": next_cursor} if next_cursor else {}
        return Response(out.getvalue(), media_type="text/csv", headers=headers)
    body = {
        "start_ms": start_ms,
        "end_ms": end,
        "window_s": window_s,
        "agg": agg,
        "resolution": resolution,
        "next_cursor": next_cursor,
        "series": [{"device": uid, "metric": m, "points": pts} for uid, m, pts in series],
    }
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")
