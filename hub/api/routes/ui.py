"""``/api/v1/map``: what the built-in web dashboard (``hub/web``) draws, in one request per view.

- ``GET /api/v1/map``: nodes with coordinates, status (online, offline, alarm)
  and town; towns with counts; open alarms per severity; the departments, towns and
  villages the caller may filter by. Filters:
  ``department`` and ``region`` (a town or village code: its subtree).
- ``GET /api/v1/map/nodes/{node_id}``: one node's devices with their chartable
  points (name, unit, enum names) and warning/danger lines from the alert rules
  in force, plus its open alarms.

Both answer only what the caller's token may see, like the rest of the API.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select

from citysense.codec import DataType
from hub.alerts.engine import AlertEngine
from hub.api.deps import Services, ensure_sees, nodes_in_scope
from hub.api.mapview import chart_lines, summary
from hub.api.policy import ReadList, ReadNode
from hub.api.routes.alarms import alarm_public
from hub.api.schemas import NodeId
from hub.errors import NotFound
from hub.registry.access import Principal
from hub.registry.models import Department, Region

router = APIRouter(prefix="/api/v1/map", tags=["web dashboard"])


def _engine(request: Request) -> AlertEngine | None:
    engine: AlertEngine | None = getattr(request.app.state, "alerts", None)
    return engine


def _regions(services: Services) -> tuple[dict[str, Region], list[dict[str, str]]]:
    with services.registry.session() as s:
        regions = {r.code: r for r in s.scalars(select(Region))}
        depts = [{"id": d.id, "name": d.name} for d in s.scalars(select(Department).order_by(Department.id))]
        s.expunge_all()
    return regions, depts


def _open_alarms(engine: AlertEngine | None, who: Principal, node: str | None = None) -> list[Any]:
    if engine is None:
        return []
    found = engine.store.query("open", None, 100_000, node=node)
    return [a for a in found if who.sees(a.region_code, a.department_id)]


@router.get("", operation_id="getMap")
async def get_map(
    services: Services,
    who: ReadList,
    request: Request,
    department: str | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Nodes with coordinates and status, towns with counts, open alarms per severity (filters: department, region)."""
    nodes = await nodes_in_scope(services, who, region=region, department=department)
    regions, depts = await asyncio.to_thread(_regions, services)
    engine = _engine(request)
    alarms = await asyncio.to_thread(_open_alarms, engine, who)
    shown = {n.id for n in nodes}
    out = summary(nodes, regions, depts, [a for a in alarms if a.node in shown])
    out["alerts_enabled"] = engine is not None
    # Offer as filter choices only the departments and towns the caller may see.
    out["departments"] = [d for d in depts if not who.departments or d["id"] in who.departments]
    out["places"] = [p for p in out["places"] if who.regions is None or p["code"] in who.regions]
    return out


@router.get("/nodes/{node_id}", operation_id="getMapNode")
async def get_map_node(services: Services, who: ReadNode, request: Request, node_id: NodeId) -> dict[str, Any]:
    """One node's devices with chartable points and warning/danger lines, and its open alarms."""
    try:
        node = await asyncio.to_thread(services.registry.get_node, node_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    ensure_sees(who, node.region_code, node.department_id, f"node '{node_id}'")
    regions, _ = await asyncio.to_thread(_regions, services)
    engine = _engine(request)
    alarms = await asyncio.to_thread(_open_alarms, engine, who, node_id)
    card = summary([node], regions, [], alarms)["nodes"][0]
    devices = []
    for d in node.devices:
        profile = services.profiles.get(d.profile)
        if profile is None:
            continue
        rules = list(profile.alerts)
        if engine is not None:
            rules = engine.rules_for(node.id, d.uid, d.profile)
        points = [
            {
                "metric": p.metric,
                "name": p.name or p.metric,
                "unit": p.unit,
                "kind": "bool" if p.type is DataType.BOOL else ("enum" if p.enum else "number"),
                "enum": {str(k): v for k, v in (p.enum or {}).items()},
                "lines": chart_lines(rules, p.metric),
            }
            for p in profile.points
            if not p.is_text
        ]
        devices.append({"uid": d.uid, "id": d.local_id, "profile": d.profile, "model": profile.model, "points": points})
    return {**card, "devices": devices, "alarms": [alarm_public(a) for a in alarms]}
