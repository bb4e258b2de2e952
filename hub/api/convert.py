"""Turn registry rows and stored readings into public models."""

from __future__ import annotations

from hub.api.health_schemas import Liveness, NodeHealthPublic
from hub.api.schemas import DevicePublic, NodePublic, ReadingPublic
from hub.registry.models import Device, Node
from hub.store.base import StoredReading


def device_public(d: Device) -> DevicePublic:
    """Public view of a device row."""
    return DevicePublic(
        uid=d.uid,
        node_id=d.node_id,
        local_id=d.local_id,
        profile=d.profile,
        connection=d.connection,
        unit_id=d.unit_id,
        poll_interval_s=d.poll_interval_s,
    )


def node_public(n: Node, live: Liveness | None = None, health: NodeHealthPublic | None = None) -> NodePublic:
    """Public view of a node row with its devices; ``live``: its liveness as the hub judges it now."""
    return NodePublic(
        id=n.id,
        kind=n.kind,
        name=n.name,
        region_code=n.region_code,
        department_id=n.department_id,
        latitude=n.latitude,
        longitude=n.longitude,
        site=n.site,
        online=n.online if live is None else live == "online",
        liveness=live or ("online" if n.online else "unknown"),
        health=health,
        last_seen_ms=n.last_seen_ms,
        agent_version=n.agent_version,
        config_version=n.config_version,
        devices=[device_public(d) for d in sorted(n.devices, key=lambda d: d.uid)],
        status=n.status,
        desired_config_version=n.desired_config_version,
    )


def reading_public(r: StoredReading) -> ReadingPublic:
    """Public view of a stored reading."""
    return ReadingPublic(metric=r.metric, value=r.value, unit=r.unit, ts_ms=r.ts_ms, quality=r.quality.wire)
