"""Node accounts and per-node ACLs in Mosquitto's dynamic-security plugin, over its ``$CONTROL`` topic.

One request is a JSON ``{"commands": [...]}`` published to
``$CONTROL/dynamic-security/v1``; the plugin answers on ``.../response`` with
one result per command (Mosquitto 2.0 dynamic-security API). Passwords
never appear on a command line.

Each node gets a client (username = node id) and a role ``node:<id>`` that
may publish only its own telemetry, status and command replies and
subscribe only to its own config, commands and ingest acknowledgments; the plugin's default ACL
denies everything else (``publishClientSend`` and ``subscribe`` default to
deny). The hub has a role of its own (``hub``): read everything under the
prefix, publish config, commands and acknowledgments.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

import aiomqtt

from hub.errors import BrokerError

log = logging.getLogger(__name__)
CONTROL = "$CONTROL/dynamic-security/v1"
ALREADY = ("already exists", "Role already exists", "Client already exists")


def node_acls(prefix: str, node_id: str) -> list[dict[str, Any]]:
    """The ACL entries of a node's role."""
    base = f"{prefix}/{node_id}"
    pub = [f"{base}/telemetry", f"{base}/status", f"{base}/cmd/reply"]
    sub = [f"{base}/config", f"{base}/cmd", f"{base}/ack"]
    acls = [{"acltype": "publishClientSend", "topic": t, "allow": True} for t in pub]
    acls += [{"acltype": "subscribeLiteral", "topic": t, "allow": True} for t in sub]
    acls += [{"acltype": "publishClientReceive", "topic": t, "allow": True} for t in sub]
    return acls


def hub_acls(prefix: str) -> list[dict[str, Any]]:
    """The ACL entries of the hub's own role."""
    return [
        {"acltype": "subscribePattern", "topic": f"{prefix}/#", "allow": True},
        {"acltype": "publishClientReceive", "topic": f"{prefix}/#", "allow": True},
        {"acltype": "publishClientSend", "topic": f"{prefix}/+/config", "allow": True},
        {"acltype": "publishClientSend", "topic": f"{prefix}/+/cmd", "allow": True},
        {"acltype": "publishClientSend", "topic": f"{prefix}/+/ack", "allow": True},
    ]


class DynSec:
    """A dynamic-security administrator session (one short MQTT connection per request)."""

    def __init__(
        self, host: str, port: int, username: str, password: str, *, prefix: str = "citysense/v1", timeout_s: float = 10
    ) -> None:
        self.host, self.port, self.username, self.password = host, port, username, password
        self.prefix = prefix
        self.timeout_s = timeout_s
        self._lock = asyncio.Lock()

    async def run(self, commands: list[dict[str, Any]], *, tolerate_exists: bool = False) -> list[dict[str, Any]]:
        """Send commands; return their responses; raise :class:`BrokerError` on the first error."""
        for c in commands:
            c.setdefault("correlationData", uuid.uuid4().hex)
        async with self._lock, asyncio.timeout(self.timeout_s):
            try:
                async with aiomqtt.Client(
                    self.host, self.port, username=self.username, password=self.password, identifier=None
                ) as client:
                    await client.subscribe(f"{CONTROL}/response", qos=1)
                    await client.publish(CONTROL, json.dumps({"commands": commands}), qos=1)
                    async for msg in client.messages:
                        body = json.loads(bytes(msg.payload))
                        responses: list[dict[str, Any]] = body.get("responses", [])
                        ids = {r.get("correlationData") for r in responses}
                        if ids >= {c["correlationData"] for c in commands}:
                            break
            except aiomqtt.MqttError as exc:
                raise BrokerError(f"dynamic-security request failed: {exc}") from exc
        for r in responses:
            err = r.get("error")
            if err and not (tolerate_exists and any(a in err for a in ALREADY)):
                raise BrokerError(f"dynamic-security {r.get('command')}: {err}")
        return responses

    async def _ensure_client(self, username: str, password: str, role: str, acls: list[dict[str, Any]]) -> bool:
        """Create a client with its role and ACLs, or reset an existing one's password; return True if created."""
        responses = await self.run(
            [
                {"command": "createRole", "rolename": role},
                {"command": "createClient", "username": username, "password": password},
            ],
            tolerate_exists=True,
        )
        created = not any(r.get("command") == "createClient" and r.get("error") for r in responses)
        # An existing role also gains the ACLs added since it was made (the ack topic); the others "already exist".
        commands = [{"command": "addRoleACL", "rolename": role, **a} for a in acls]
        if created:  # Mosquitto 2.0 answers "Internal error" to adding a role a client already has
            commands.append({"command": "addClientRole", "username": username, "rolename": role})
        else:
            commands.insert(0, {"command": "setClientPassword", "username": username, "password": password})
        await self.run([*commands, {"command": "enableClient", "username": username}], tolerate_exists=True)
        return created

    async def ensure_hub_account(self, username: str, password: str) -> None:
        """Create (or reset) the hub's own account and role."""
        await self._ensure_client(username, password, "hub", hub_acls(self.prefix))

    async def create_node(self, node_id: str, password: str) -> None:
        """Create the node's client and role, or (if it exists) reset its password and enable it."""
        created = await self._ensure_client(node_id, password, f"node:{node_id}", node_acls(self.prefix, node_id))
        log.info("%s: broker account %s", node_id, "created" if created else "reset")

    async def set_password(self, node_id: str, password: str) -> None:
        """Rotate (or create, for a node that had none): the old password stops working, a live session is dropped."""
        await self.create_node(node_id, password)
        # Disabling then enabling disconnects the current session, so it cannot live on old credentials.
        await self.run(
            [{"command": "disableClient", "username": node_id}, {"command": "enableClient", "username": node_id}]
        )
        log.info("%s: broker password rotated", node_id)

    async def disable(self, node_id: str) -> None:
        """Revoke: the client is disabled and its live session disconnected."""
        await self.run([{"command": "disableClient", "username": node_id}])
        log.info("%s: broker account disabled", node_id)
