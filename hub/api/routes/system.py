"""``/api/v1/health`` and ``/api/v1/dead-letters``."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Response

from hub.api.deps import Services
from hub.api.healthview import broker_health, liveness, now_ms, problems, spool_health, store_health
from hub.api.policy import ReadCity
from hub.api.schemas import DeadLetterPublic, HealthPublic
from hub.registry.outage import brief, db_unavailable

router = APIRouter(prefix="/api/v1", tags=["system"])


@router.get(
    "/health",
    operation_id="getHealth",
    responses={503: {"model": HealthPublic, "description": "Something is wrong: see `problems`"}},
)
async def health(services: Services, response: Response) -> HealthPublic:
    """Report the broker, store and spool state, node liveness and the ingest counters; HTTP 503 unless ok."""
    registry_down: str | None = None
    try:
        nodes = await asyncio.to_thread(services.registry.list_nodes)
    except Exception as exc:  # the database away is a problem to report, not a crash of the health check
        if not db_unavailable(exc):
            raise
        nodes, registry_down = [], brief(exc)
    s = services.stats
    broker, store, spool = broker_health(services), store_health(services), spool_health(services)
    found = problems(broker, store, spool)
    if registry_down is not None:
        found.append(f"registry database unavailable: {registry_down}")
    if found:
        response.status_code = 503
    at = now_ms()
    return HealthPublic(
        status="degraded" if found else "ok",
        problems=found,
        broker=broker,
        store=store,
        spool=spool,
        nodes=len(nodes),
        nodes_online=sum(1 for n in nodes if liveness(services, n, at) == "online"),
        messages=s.messages,
        batches=s.batches,
        readings_stored=s.readings_stored,
        duplicates=s.duplicates,
        dead_letters=dict(s.dead_letters),
    )


@router.get("/dead-letters", operation_id="listDeadLetters")
async def dead_letters(
    services: Services,
    principal: ReadCity,
    reason: Annotated[str | None, Query(max_length=64)] = None,
    after_id: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeadLetterPublic]:
    """List rejected messages and readings, oldest first, from the ``after_id`` cursor (city-wide callers only)."""
    rows = await asyncio.to_thread(services.registry.list_dead_letters, reason, after_id, limit)
    return [
        DeadLetterPublic(
            id=r.id,
            received_ms=r.received_ms,
            topic=r.topic,
            node=r.node,
            reason=r.reason,
            detail=r.detail,
            payload=r.payload,
        )
        for r in rows
    ]
