"""``/api/v1/nodes``: the edge agents and their devices, as far as the caller's scope reaches."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response

from hub.api.convert import node_public
from hub.api.deps import Services, ensure_sees
from hub.api.healthview import liveness, node_health, now_ms
from hub.api.policy import ReadList, ReadNode
from hub.api.schemas import NodeId, NodePublic
from hub.errors import NotFound
from hub.registry.service import NodeFilter

router = APIRouter(prefix="/api/v1/nodes", tags=["nodes"])
NEXT_CURSOR = "X-Next-Cursor"


@router.get("", operation_id="listNodes")
async def list_nodes(
    services: Services,
    principal: ReadList,
    response: Response,
    kind: str | None = None,
    department: str | None = None,
    region: str | None = None,
    status: Literal["placeholder", "claimed", "commissioned"] | None = None,
    profile: str | None = None,
    config_drift: Annotated[bool, Query(description="only nodes whose applied config differs from desired")] = False,
    cursor: Annotated[str | None, Query(description="`X-Next-Cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> list[NodePublic]:
    """List nodes in the caller's scope, filtered by kind, department, region subtree, status or profile.

    Pages are ordered by id; when more remain, the ``X-Next-Cursor`` header holds the cursor of the next page.
    """
    flt = NodeFilter(
        kind=kind,
        department=department,
        region=region,
        status=status,
        profile=profile,
        within_regions=principal.regions,
        within_departments=principal.departments,
        after=cursor,
        limit=limit + 1,
        drift=config_drift,
    )
    try:
        nodes = await asyncio.to_thread(services.registry.list_nodes, flt)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    if len(nodes) > limit:
        nodes = nodes[:limit]
        response.headers[NEXT_CURSOR] = nodes[-1].id
    at = now_ms()
    return [node_public(n, liveness(services, n, at), node_health(services, n.id)) for n in nodes]


@router.get("/{node_id}", operation_id="getNode")
async def get_node(services: Services, principal: ReadNode, node_id: NodeId) -> NodePublic:
    """Return one node with its devices and liveness."""
    try:
        node = await asyncio.to_thread(services.registry.get_node, node_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    ensure_sees(principal, node.region_code, node.department_id, f"node '{node_id}'")
    return node_public(node, liveness(services, node, now_ms()), node_health(services, node.id))
