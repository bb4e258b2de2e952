"""The dynamic-security roles of nodes and of the hub: which topics each may touch.

The plugin's default ACL denies everything a role does not allow
(``publishClientSend`` and ``subscribe`` default to deny, Mosquitto 2.0
dynamic-security "Default ACL access"), so these lists are the whole grant.
"""

from __future__ import annotations

from typing import Any

HUB_ROLE = "hub"


def node_role(node_id: str) -> str:
    """The role both of a node's accounts (uplink and control) carry."""
    return f"node:{node_id}"


def node_acls(prefix: str, node_id: str) -> list[dict[str, Any]]:
    """The ACL entries of a node's role: its own topics, nothing else."""
    base = f"{prefix}/{node_id}"
    pub = [f"{base}/telemetry", f"{base}/status", f"{base}/cmd/reply"]
    sub = [f"{base}/config", f"{base}/cmd", f"{base}/ack"]
    acls = [{"acltype": "publishClientSend", "topic": t, "allow": True} for t in pub]
    acls += [{"acltype": "subscribeLiteral", "topic": t, "allow": True} for t in sub]
    acls += [{"acltype": "publishClientReceive", "topic": t, "allow": True} for t in sub]
    return acls


def hub_acls(prefix: str) -> list[dict[str, Any]]:
    """The ACL entries of the hub's role: read everything under the prefix, send config, commands and acks."""
    return [
        {"acltype": "subscribePattern", "topic": f"{prefix}/#", "allow": True},
        {"acltype": "publishClientReceive", "topic": f"{prefix}/#", "allow": True},
        {"acltype": "publishClientSend", "topic": f"{prefix}/+/config", "allow": True},
        {"acltype": "publishClientSend", "topic": f"{prefix}/+/cmd", "allow": True},
        {"acltype": "publishClientSend", "topic": f"{prefix}/+/ack", "allow": True},
    ]
