"""``/api/v1/latest``: the newest value of every metric of many devices in one call.

Served from the in-memory :class:`hub.latest.LatestCache` (warmed from the
store at start), never from the store: InfluxDB's ``last(*)`` over thousands
of series takes seconds. Devices come in uid order; ``next_cursor`` is the
last uid returned, to pass as ``cursor`` for the next page.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from hub.api.deps import CurrentPrincipal, Services
from hub.errors import NotFound
from hub.registry.access import Principal
from hub.registry.service import NodeFilter

router = APIRouter(prefix="/api/v1", tags=["readings"])


async def _nodes(
    services: Services, principal: Principal, region: str | None, department: str | None
) -> set[str] | None:
    """Node ids the caller may see and asked for; ``None`` when that is every node."""
    if region is None and department is None and principal.unscoped:
        return None
    flt = NodeFilter(
        region=region,
        department=department,
        within_regions=principal.regions,
        within_departments=principal.departments,
    )
    try:
        rows = await asyncio.to_thread(services.registry.list_nodes, flt)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    return {n.id for n in rows}


@router.get("/latest", operation_id="listLatest", response_model=None)
async def list_latest(
    services: Services,
    principal: CurrentPrincipal,
    region: Annotated[str | None, Query(description="Region code; matches its whole subtree")] = None,
    department: str | None = None,
    profile: str | None = None,
    node: Annotated[list[str] | None, Query()] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=20_000)] = 5_000,
    fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Response:
    """Return the newest value of every metric of each matching device in the caller's scope."""
    allowed = await _nodes(services, principal, region, department)
    wanted_nodes = set(node) if node else None
    latest, snapshot_profile = services.latest, profile
    now_ms = time.time_ns() // 1_000_000
    page: list[tuple[str, dict[str, Any]]] = []
    more = False
    for uid in latest.devices():
        if cursor is not None and uid <= cursor:
            continue
        held = latest.get(uid)
        if not held:
            continue
        first = next(iter(held.values()))
        if (allowed is not None and first.node not in allowed) or (wanted_nodes and first.node not in wanted_nodes):
            continue
        if snapshot_profile is not None and first.profile != snapshot_profile:
            continue
        if len(page) == limit:
            more = True
            break
        page.append((uid, held))
    next_cursor = page[-1][0] if more and page else None
    if fmt == "csv":
        return _csv(page, next_cursor)
    body = {
        "as_of_ms": now_ms,
        "next_cursor": next_cursor,
        "devices": [
            {
                "device": uid,
                "readings": {
                    m: {"value": r.value, "unit": r.unit, "ts_ms": r.ts_ms, "quality": r.quality.wire}
                    for m, r in held.items()
                },
            }
            for uid, held in page
        ],
    }
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")


def _csv(page: list[tuple[str, dict[str, Any]]], next_cursor: str | None) -> Response:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["device", "metric", "value", "unit", "ts_ms", "quality"])
    for uid, held in page:
        for m, r in sorted(held.items()):
            w.writerow([uid, m, "" if r.value is None else r.value, r.unit, r.ts_ms, r.quality.wire])
    headers = {"X-Next-Cursor": next_cursor} if next_cursor else {}
    return Response(out.getvalue(), media_type="text/csv", headers=headers)
