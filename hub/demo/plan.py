"""Which demo nodes to create: kinds, places and coordinates in Gaozhou."""

from __future__ import annotations

from dataclasses import dataclass

from citysense.nodekinds import NodeKind
from hub.registry.fleet import Endpoint, NodeSpec


@dataclass(frozen=True, slots=True)
class DemoSite:
    """One simulated site."""

    kind: str
    prefix: str
    region: str
    latitude: float
    longitude: float
    name: str


# Downtown poles and signals in the subdistricts; gauges on the Jian River (鉴江)
# and reservoirs up-country; weather stations in villages.
SITES: tuple[DemoSite, ...] = (
    DemoSite("smart_pole", "GZ-P", "440981001001", 21.9187, 110.8535, "府前路灯杆"),
    DemoSite("smart_pole", "GZ-P", "440981002001", 21.9302, 110.8611, "山美路灯杆"),
    DemoSite("water_gauge", "GZ-WG", "440981103001", 21.8630, 110.8112, "鉴江泗水水位站"),
    DemoSite("water_gauge", "GZ-WG", "440981115001", 22.2571, 111.1213, "马贵水库水位站"),
    DemoSite("weather_station", "GZ-WS", "440981105001", 21.8020, 110.8960, "镇江村自动气象站"),
    DemoSite("weather_station", "GZ-WS", "440981119001", 22.1050, 111.0480, "云潭村自动气象站"),
    DemoSite("signal_cabinet", "GZ-TS", "440981001001", 21.9165, 110.8490, "人民路口信号机"),
    DemoSite("signal_cabinet", "GZ-TS", "440981003", 21.9080, 110.8400, "金山大道口信号机"),
)


def node_ids(per_kind: int) -> list[tuple[str, DemoSite]]:
    """Return ``(node id, site)`` for up to ``per_kind`` sites of every kind."""
    out: list[tuple[str, DemoSite]] = []
    counts: dict[str, int] = {}
    for site in SITES:
        n = counts.get(site.kind, 0) + 1
        if n <= per_kind:
            counts[site.kind] = n
            out.append((f"{site.prefix}-{n:04d}", site))
    return out


def node_spec(node_id: str, site: DemoSite, kind: NodeKind, port: int) -> NodeSpec:
    """The fleet entry of a demo node whose every connection is a Modbus TCP server on 127.0.0.1:``port``."""
    return NodeSpec(
        id=node_id,
        kind=site.kind,
        name=site.name,
        region=site.region,
        latitude=site.latitude,
        longitude=site.longitude,
        endpoints={c.id: Endpoint(host="127.0.0.1", port=port) for c in kind.connections},
    )
