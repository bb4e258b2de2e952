"""``/api/v1/nodes``: the edge agents and their devices."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException

from hub.api.convert import node_public
from hub.api.deps import Services
from hub.api.schemas import NodePublic
from hub.errors import NotFound
from hub.registry.service import NodeFilter

router = APIRouter(prefix="/api/v1/nodes", tags=["nodes"])


@router.get("", operation_id="listNodes")
async def list_nodes(
    services: Services, kind: str | None = None, department: str | None = None, region: str | None = None
) -> list[NodePublic]:
    """List nodes, filtered by kind, department or region subtree."""
    try:
        nodes = await asyncio.to_thread(services.registry.list_nodes, NodeFilter(kind, department, region))
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    return [node_public(n) for n in nodes]


@router.get("/{node_id}", operation_id="getNode")
async def get_node(services: Services, node_id: str) -> NodePublic:
    """Return one node with its devices and liveness."""
    try:
        return node_public(await asyncio.to_thread(services.registry.get_node, node_id))
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
