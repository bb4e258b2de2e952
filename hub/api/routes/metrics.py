"""``/metrics``: the hub's series in the Prometheus text exposition format, written by ``prometheus_client``."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from hub.api.deps import Services
from hub.api.promexport import HubCollector, make_registry
from hub.registry.outage import db_unavailable

router = APIRouter(tags=["system"])


@router.get("/metrics", response_class=Response, operation_id="getMetrics")
async def metrics(services: Services, request: Request) -> Response:
    """Ingest rate, lag, spool, dead letters, store latency; broker, store and node health; process and GC."""
    made: tuple[CollectorRegistry, HubCollector] | None = getattr(request.app.state, "metrics_registry", None)
    if made is None:
        made = request.app.state.metrics_registry = make_registry(services)
    registry, hub = made
    try:
        hub.nodes = await asyncio.to_thread(services.registry.list_nodes)
        hub.registry_up = True
    except Exception as exc:  # the database away: still serve the hub's own series (the node series as last read)
        if not db_unavailable(exc):
            raise
        hub.registry_up = False
    # On the event loop: the collector reads objects that only the loop changes.
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
