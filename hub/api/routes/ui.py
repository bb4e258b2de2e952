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
from citysense.profiles.alertrules import AlertRule
from hub.alerts.engine import AlertEngine
from hub.alerts.lifecycle import sev_label
from hub.alerts.resolve import effective_rules
from hub.api.deps import CurrentPrincipal, Services, ensure_sees
from hub.api.routes.alarms import _public
from hub.errors import NotFound
from hub.registry.access import Principal
from hub.registry.models import Department, Node, Region
from hub.registry.service import NodeFilter

router = APIRouter(prefix="/api/v1/map", tags=["web dashboard"])
SEVERITIES = ("critical", "major", "warning", "info")
# Gaozhou's extent (about 21.7-22.3 N, 110.6-111.3 E): the map's frame when no node has coordinates.
CITY = {"south": 21.65, "west": 110.55, "north": 22.40, "east": 111.30}
MIN_SPAN_DEG = 0.04  # about 4 km: one node, or a tight cluster, still gets a readable frame


def _bbox(nodes: list[dict[str, Any]]) -> dict[str, float]:
    """Frame the placed nodes with a margin, so a town's nodes fill the map rather than a corner of the city."""
    lats = [n["latitude"] for n in nodes if n["latitude"] is not None and n["longitude"] is not None]
    lons = [n["longitude"] for n in nodes if n["latitude"] is not None and n["longitude"] is not None]
    if not lats:
        return dict(CITY)
    mid_lat, mid_lon = (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2
    half_lat = max(max(lats) - min(lats), MIN_SPAN_DEG) * 0.6
    half_lon = max(max(lons) - min(lons), MIN_SPAN_DEG) * 0.6
    return {
        "south": mid_lat - half_lat,
        "north": mid_lat + half_lat,
        "west": mid_lon - half_lon,
        "east": mid_lon + half_lon,
    }


def _engine(request: Request) -> AlertEngine | None:
    engine: AlertEngine | None = getattr(request.app.state, "alerts", None)
    return engine


def _regions(services: Services) -> tuple[dict[str, Region], list[dict[str, str]]]:
    with services.registry.session() as s:
        regions = {r.code: r for r in s.scalars(select(Region))}
        depts = [{"id": d.id, "name": d.name} for d in s.scalars(select(Department).order_by(Department.id))]
        s.expunge_all()
    return regions, depts


def _town_of(code: str, regions: dict[str, Region]) -> Region | None:
    cur = regions.get(code)
    while cur is not None and cur.level not in ("town", "city"):
        cur = regions.get(cur.parent_code) if cur.parent_code else None
    return cur if cur is not None and cur.level == "town" else None


def _open_alarms(engine: AlertEngine | None, who: Principal) -> list[Any]:
    if engine is None:
        return []
    return [a for a in engine.store.query("open", None, 100_000) if who.sees(a.region_code, a.department_id)]


def _summary(
    nodes: list[Node], regions: dict[str, Region], depts: list[dict[str, str]], alarms: list[Any]
) -> dict[str, Any]:
    worst: dict[str, int] = {}
    count: dict[str, int] = {}
    for a in alarms:
        worst[a.node] = max(worst.get(a.node, 0), a.severity)
        count[a.node] = count.get(a.node, 0) + 1
    towns: dict[str, dict[str, Any]] = {}
    out_nodes: list[dict[str, Any]] = []
    for n in nodes:
        town = _town_of(n.region_code, regions)
        status = "alarm" if n.id in worst else ("online" if n.online else "offline")
        place = regions.get(n.region_code)
        out_nodes.append(
            {
                "id": n.id,
                "name": n.name,
                "kind": n.kind,
                "department": n.department_id,
                "region": n.region_code,
                "region_name": place.name if place else "",
                "town": town.code if town else "",
                "town_name": town.name if town else "",
                "latitude": n.latitude,
                "longitude": n.longitude,
                "online": n.online,
                "last_seen_ms": n.last_seen_ms,
                "status": status,
                "open_alarms": count.get(n.id, 0),
                "worst_severity": sev_label(worst[n.id]) if n.id in worst else None,
                "devices": [{"uid": d.uid, "id": d.local_id, "profile": d.profile} for d in n.devices],
            }
        )
        if town is not None:
            t = towns.setdefault(
                town.code, {"code": town.code, "name": town.name, "nodes": 0, "online": 0, "offline": 0, "alarm": 0}
            )
            t["nodes"] += 1
            t["online" if n.online else "offline"] += 1
            t["alarm"] += status == "alarm"
    for t in towns.values():
        placed = [n for n in out_nodes if n["town"] == t["code"] and n["latitude"] is not None]
        t["latitude"] = sum(n["latitude"] for n in placed) / len(placed) if placed else None
        t["longitude"] = sum(n["longitude"] for n in placed) / len(placed) if placed else None
    by_sev = {s: 0 for s in SEVERITIES}
    for a in alarms:
        by_sev[sev_label(a.severity)] = by_sev.get(sev_label(a.severity), 0) + 1
    places = sorted(
        (
            {"code": r.code, "name": r.name, "level": r.level, "town": home.code}
            for r in regions.values()
            if r.level in ("town", "village") and (home := _town_of(r.code, regions)) is not None
        ),
        key=lambda p: (p["town"], p["level"] != "town", p["code"]),
    )
    return {
        "bbox": _bbox(out_nodes),
        "nodes": out_nodes,
        "towns": sorted(towns.values(), key=lambda t: t["code"]),
        "places": places,
        "severities": [{"severity": s, "open": n} for s, n in by_sev.items()],
        "departments": depts,
        "alerts_enabled": True,
    }


@router.get("", operation_id="getMap")
async def get_map(
    services: Services,
    who: CurrentPrincipal,
    request: Request,
    department: str | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Nodes with coordinates and status, towns with counts, open alarms per severity (filters: department, region)."""
    flt = NodeFilter(
        department=department or None,
        region=region or None,
        within_regions=who.regions,
        within_departments=who.departments,
    )
    try:
        nodes = await asyncio.to_thread(services.registry.list_nodes, flt)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    regions, depts = await asyncio.to_thread(_regions, services)
    engine = _engine(request)
    alarms = await asyncio.to_thread(_open_alarms, engine, who)
    shown = {n.id for n in nodes}
    out = _summary(nodes, regions, depts, [a for a in alarms if a.node in shown])
    out["alerts_enabled"] = engine is not None
    # Offer as filter choices only the departments and towns the caller may see.
    out["departments"] = [d for d in depts if not who.departments or d["id"] in who.departments]
    out["places"] = [p for p in out["places"] if who.regions is None or p["code"] in who.regions]
    return out


def _lines(rules: list[AlertRule], metric: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in rules:
        if r.enabled and r.kind == "threshold" and r.metric == metric and r.above is not None:
            key = "warning" if r.severity in ("info", "warning") else "danger"
            out[key] = min(out.get(key, r.above), r.above)
    return out


@router.get("/nodes/{node_id}", operation_id="getMapNode")
async def get_map_node(services: Services, who: CurrentPrincipal, request: Request, node_id: str) -> dict[str, Any]:
    """One node's devices with chartable points and warning/danger lines, and its open alarms."""
    try:
        node = await asyncio.to_thread(services.registry.get_node, node_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    ensure_sees(who, node.region_code, node.department_id, f"node '{node_id}'")
    regions, _ = await asyncio.to_thread(_regions, services)
    engine = _engine(request)
    alarms = [a for a in await asyncio.to_thread(_open_alarms, engine, who) if a.node == node_id]
    summary = _summary([node], regions, [], alarms)["nodes"][0]
    devices = []
    for d in node.devices:
        profile = services.profiles.get(d.profile)
        if profile is None:
            continue
        rules = list(profile.alerts)
        if engine is not None:
            place = engine.topology.place(node.id)
            rules = effective_rules(
                profile=d.profile,
                profile_rules=profile.alerts,
                device=d.uid,
                region_chain=place.chain,
                region_rules=engine.cfg.region_rules,
                device_rules=engine.cfg.device_rules,
            )
        points = [
            {
                "metric": p.metric,
                "name": p.name or p.metric,
                "unit": p.unit,
                "kind": "bool" if p.type is DataType.BOOL else ("enum" if p.enum else "number"),
                "enum": {str(k): v for k, v in (p.enum or {}).items()},
                "lines": _lines(rules, p.metric),
            }
            for p in profile.points
            if p.type is not DataType.STRING
        ]
        devices.append({"uid": d.uid, "id": d.local_id, "profile": d.profile, "model": profile.model, "points": points})
    return {**summary, "devices": devices, "alarms": [_public(a) for a in alarms]}
