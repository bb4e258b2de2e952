"""Render a node's full agent configuration from its kind and its site's endpoints."""

from __future__ import annotations

import json

from citysense.agentconfig import AgentConfig, Connection, DeviceConfig, HubLink, MeterConfig
from citysense.nodekinds import NodeKind
from hub.errors import RegistryError
from hub.registry.models import Node


def render_agent_config(node: Node, kind: NodeKind, hub: HubLink) -> AgentConfig:
    """Return the configuration the agent of ``node`` runs with."""
    endpoints: dict[str, dict[str, object]] = json.loads(node.endpoints_json or "{}")
    connections = []
    for tpl in kind.connections:
        ep = endpoints.get(tpl.id)
        if ep is None:
            raise RegistryError(f"node {node.id}: no endpoint for connection '{tpl.id}' of kind '{kind.kind}'")
        where = {k: v for k, v in ep.items() if k != "address"}  # an address belongs to a meter, not a line
        connections.append(Connection.model_validate({"id": tpl.id, "type": tpl.type, **where}))
    by_local = {d.local_id: d for d in node.devices}
    devices = [
        DeviceConfig(
            id=t.id,
            profile=t.profile,
            connection=t.connection,
            unit_id=by_local[t.id].unit_id if t.id in by_local else t.unit_id,
            poll_interval_s=t.poll_interval_s,
        )
        for t in kind.devices
    ]
    meters = [
        MeterConfig(
            id=m.id,
            profile=m.profile,
            connection=m.connection,
            # The site's nameplate address, given at provisioning as the endpoint named after the meter.
            address=str((endpoints.get(m.id) or {}).get("address") or m.address),
            poll_interval_s=m.poll_interval_s,
        )
        for m in kind.meters
    ]
    return AgentConfig(
        node_id=node.id,
        config_version=node.config_version,
        hub=hub,
        connections=connections,
        devices=devices,
        meters=meters,
    )
