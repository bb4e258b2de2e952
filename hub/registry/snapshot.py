"""An immutable in-memory view of the registry for the ingest hot path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class DeviceView:
    """What ingest needs to know of one device."""

    uid: str
    node: str
    local_id: str
    profile: str
    tags: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class NodeView:
    """What ingest needs to know of one node."""

    id: str
    devices: Mapping[str, DeviceView]  # by local id


@dataclass(frozen=True, slots=True)
class RegistrySnapshot:
    """Nodes by id; replaced whole when the registry changes."""

    nodes: Mapping[str, NodeView] = field(default_factory=dict)

    def device(self, uid: str) -> DeviceView | None:
        """Find a device by uid."""
        node, _, local = uid.partition(".")
        view = self.nodes.get(node)
        return view.devices.get(local) if view else None
