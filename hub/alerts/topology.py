"""Where each node sits: its region chain (village → town → city) and department.

Read once from the registry at start; the router, the rule overrides and the
roll-up of counts use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select

from hub.registry.models import Node, Region
from hub.registry.service import Registry


@dataclass(frozen=True, slots=True)
class NodePlace:
    """A node's department and region codes, most specific first."""

    department: str
    chain: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Topology:
    """Nodes' places and region names/levels."""

    nodes: Mapping[str, NodePlace] = field(default_factory=dict)
    regions: Mapping[str, tuple[str, str, str | None]] = field(default_factory=dict)  # code -> (name, level, parent)

    def place(self, node: str) -> NodePlace:
        """The node's place; an unknown node sits nowhere."""
        return self.nodes.get(node, NodePlace("", ()))

    def rollup(self, region_codes: Iterable[str]) -> dict[str, int]:
        """Count each code and all its ancestors (village → town → city)."""
        out: dict[str, int] = {}
        for code in region_codes:
            cur: str | None = code
            hops = 0
            while cur is not None and hops < 8:
                out[cur] = out.get(cur, 0) + 1
                cur = self.regions.get(cur, ("", "", None))[2]
                hops += 1
        return out


def load_topology(registry: Registry) -> Topology:
    """Read nodes and regions from the registry."""
    with registry.session() as s:
        regions = {r.code: (r.name, r.level, r.parent_code) for r in s.scalars(select(Region))}
        nodes: dict[str, NodePlace] = {}
        for n in s.scalars(select(Node)):
            chain: list[str] = []
            cur: str | None = n.region_code
            while cur is not None and len(chain) < 8:
                chain.append(cur)
                cur = regions.get(cur, ("", "", None))[2]
            nodes[n.id] = NodePlace(n.department_id, tuple(chain))
    return Topology(nodes, regions)
