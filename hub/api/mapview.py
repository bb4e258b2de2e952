"""The map view's data: node summaries with status and town, town counts and a frame (pure functions).

``hub.api.routes.ui`` loads the registry rows and open alarms and serves what
these functions build; the web dashboard (``hub/web``) draws it.
"""

from __future__ import annotations

from typing import Any

from citysense.profiles.alertrules import AlertRule
from hub.alerts.lifecycle import sev_label
from hub.registry.models import Node, Region
from hub.registry.regions import town_of

SEVERITIES = ("critical", "major", "warning", "info")
# Gaozhou's extent (about 21.7-22.3 N, 110.6-111.3 E): the map's frame when no node has coordinates.
CITY = {"south": 21.65, "west": 110.55, "north": 22.40, "east": 111.30}
MIN_SPAN_DEG = 0.04  # about 4 km: one node, or a tight cluster, still gets a readable frame


def frame(nodes: list[dict[str, Any]]) -> dict[str, float]:
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


def summary(
    nodes: list[Node], regions: dict[str, Region], depts: list[dict[str, str]], alarms: list[Any]
) -> dict[str, Any]:
    """Build the map: nodes with status and town, towns with counts, open alarms per severity, filter choices."""
    worst: dict[str, int] = {}
    count: dict[str, int] = {}
    for a in alarms:
        worst[a.node] = max(worst.get(a.node, 0), a.severity)
        count[a.node] = count.get(a.node, 0) + 1
    towns: dict[str, dict[str, Any]] = {}
    placed: dict[str, list[tuple[float, float]]] = {}  # town code -> coordinates of its placed nodes
    out_nodes: list[dict[str, Any]] = []
    for n in nodes:
        town = town_of(n.region_code, regions)
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
            if n.latitude is not None and n.longitude is not None:
                placed.setdefault(town.code, []).append((n.latitude, n.longitude))
    for code, t in towns.items():
        spots = placed.get(code)
        t["latitude"] = sum(lat for lat, _ in spots) / len(spots) if spots else None
        t["longitude"] = sum(lon for _, lon in spots) / len(spots) if spots else None
    by_sev = {s: 0 for s in SEVERITIES}
    for a in alarms:
        by_sev[sev_label(a.severity)] = by_sev.get(sev_label(a.severity), 0) + 1
    places = sorted(
        (
            {"code": r.code, "name": r.name, "level": r.level, "town": home.code}
            for r in regions.values()
            if r.level in ("town", "village") and (home := town_of(r.code, regions)) is not None
        ),
        key=lambda p: (p["town"], p["level"] != "town", p["code"]),
    )
    return {
        "bbox": frame(out_nodes),
        "nodes": out_nodes,
        "towns": sorted(towns.values(), key=lambda t: t["code"]),
        "places": places,
        "severities": [{"severity": s, "open": n} for s, n in by_sev.items()],
        "departments": depts,
        "alerts_enabled": True,
    }


def chart_lines(rules: list[AlertRule], metric: str) -> dict[str, float]:
    """Return the warning and danger lines of ``metric`` from threshold rules (info/warning: warning, else danger)."""
    out: dict[str, float] = {}
    for r in rules:
        if r.enabled and r.kind == "threshold" and r.metric == metric and r.above is not None:
            key = "warning" if r.severity in ("info", "warning") else "danger"
            out[key] = min(out.get(key, r.above), r.above)
    return out
