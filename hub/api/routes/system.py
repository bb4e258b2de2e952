"""``/api/v1/health`` and ``/api/v1/dead-letters``."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from hub.api.deps import Services
from hub.api.policy import ReadCity
from hub.api.schemas import DeadLetterPublic, HealthPublic

router = APIRouter(prefix="/api/v1", tags=["system"])


@router.get("/health", operation_id="getHealth")
async def health(services: Services) -> HealthPublic:
    """Report liveness and the ingest counters."""
    nodes = await asyncio.to_thread(services.registry.list_nodes)
    s = services.stats
    return HealthPublic(
        status="ok",
        nodes=len(nodes),
        nodes_online=sum(1 for n in nodes if n.online),
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
