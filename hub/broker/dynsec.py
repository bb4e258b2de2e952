"""Broker accounts in Mosquitto's dynamic-security plugin, over its ``$CONTROL`` topic.

One request is a JSON ``{"commands": [...]}`` published to
``$CONTROL/dynamic-security/v1``; the plugin answers on ``.../response`` with
one result per command (Mosquitto 2.0 dynamic-security API). Passwords
never appear on a command line.

Every account the hub creates is bound to exactly one client id (the
client's ``clientid`` field, ``createClient``/``setClientId``): the broker
refuses the credentials under any other id, so a node cannot take over the
hub's persistent session or another node's. A node has two accounts (uplink
and control, citysense/brokerids.py) with one password and the role
``node:<id>``; the hub has its ingest account and its command account with the
role ``hub`` (hub/broker/acls.py).

The hub changes only accounts it owns: an existing account is reset only if
its roles are exactly the ones the hub gave it, so no node id (and no
misconfiguration) can reset the password of the dynamic-security
administrator or of any other account (:class:`AccountConflict`). A request
that fails part-way undoes what it created (compensating step); every request
has a timeout, and a broker that does not answer raises :class:`BrokerError`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

import aiomqtt

from citysense.brokerids import control_client_id, control_username, uplink_client_id
from hub.broker.acls import HUB_ROLE, hub_acls, node_acls, node_role
from hub.broker.admin import AccountConflict, create_together, node_accounts
from hub.errors import BrokerError

log = logging.getLogger(__name__)
CONTROL = "$CONTROL/dynamic-security/v1"
ALREADY = ("already exists",)
NOT_FOUND = ("not found",)


__all__ = ["AccountConflict", "DynSec"]


class DynSec:
    """A dynamic-security administrator session (one short MQTT connection per request).

    The Mosquitto back end of :class:`hub.broker.admin.BrokerAdmin`.
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        *,
        prefix: str = "citysense/v1",
        timeout_s: float = 10,
        client_id: str | None = None,
    ) -> None:
        self.host, self.port, self.username, self.password = host, port, username, password
        self.prefix = prefix
        self.timeout_s = timeout_s
        self.client_id = client_id  # set when the operator bound the administrator to one (docs/security.md)
        self._lock = asyncio.Lock()

    async def run(self, commands: list[dict[str, Any]], *, tolerate: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Send commands; return their responses; raise :class:`BrokerError` on the first error not tolerated."""
        for c in commands:
            c.setdefault("correlationData", uuid.uuid4().hex)
        wanted = {c["correlationData"] for c in commands}
        responses: list[dict[str, Any]] = []
        try:
            async with (
                self._lock,
                asyncio.timeout(self.timeout_s),
                aiomqtt.Client(
                    self.host,
                    self.port,
                    username=self.username,
                    password=self.password,
                    identifier=self.client_id,
                    timeout=self.timeout_s,
                ) as client,
            ):
                await client.subscribe(f"{CONTROL}/response", qos=1)
                await client.publish(CONTROL, json.dumps({"commands": commands}), qos=1)
                async for msg in client.messages:
                    body = json.loads(bytes(msg.payload))
                    responses = [r for r in body.get("responses", []) if r.get("correlationData") in wanted]
                    if len(responses) == len(wanted):
                        break
        except aiomqtt.MqttError as exc:
            raise BrokerError(f"dynamic-security request failed: {exc}") from exc
        except TimeoutError as exc:
            raise BrokerError(f"the broker did not answer a dynamic-security request in {self.timeout_s} s") from exc
        for r in responses:
            err = str(r.get("error") or "")
            if err and not any(t in err.lower() for t in tolerate):
                raise BrokerError(f"dynamic-security {r.get('command')}: {err}")
        return responses

    async def account(self, username: str) -> dict[str, Any] | None:
        """The plugin's record of an account (``clientid``, ``roles``...), or None when there is none."""
        responses = await self.run([{"command": "getClient", "username": username}], tolerate=NOT_FOUND)
        client = (responses[0].get("data") or {}).get("client") if responses else None
        return client if isinstance(client, dict) and client else None

    async def roles_of(self, username: str) -> set[str] | None:
        """The role names of an existing account, or None when there is no such account."""
        client = await self.account(username)
        return None if client is None else {r["rolename"] for r in client.get("roles", [])}

    async def bind_uplink(self, node_id: str) -> bool:
        """Bind an older node account (made before client ids were bound) to ``agent-<id>``; True if it changed."""
        client = await self.account(node_id)
        if client is None or {r["rolename"] for r in client.get("roles", [])} != {node_role(node_id)}:
            return False
        if client.get("clientid") == uplink_client_id(node_id):
            return False
        await self.run([{"command": "setClientId", "username": node_id, "clientid": uplink_client_id(node_id)}])
        return True

    async def _ensure_account(
        self, username: str, password: str, client_id: str, role: str, acls: list[dict[str, Any]]
    ) -> bool:
        """Create the account bound to ``client_id``, or reset one the hub owns; return True if created."""
        roles = await self.roles_of(username)
        if roles is not None and roles != {role}:
            raise AccountConflict(f"broker account '{username}' exists and is not the hub's to manage (roles {roles})")
        if roles is None:
            await self.run([{"command": "createRole", "rolename": role, "acls": acls}], tolerate=ALREADY)
            create = {"command": "createClient", "username": username, "password": password, "clientid": client_id}
            await self.run([{**create, "roles": [{"rolename": role}]}])
            return True
        await self.run(
            [
                {"command": "setClientPassword", "username": username, "password": password},
                {"command": "setClientId", "username": username, "clientid": client_id},
                {"command": "enableClient", "username": username},
            ]
        )
        # A role made by an older hub gains the ACLs added since (the ingest acknowledgments); the rest "already exist".
        await self.run([{"command": "addRoleACL", "rolename": role, **a} for a in acls], tolerate=ALREADY)
        return False

    async def _delete(self, usernames: list[str]) -> None:
        """Compensating step: remove accounts this request created; log (never raise) when it cannot."""
        try:
            await self.run([{"command": "deleteClient", "username": u} for u in usernames], tolerate=NOT_FOUND)
        except BrokerError as exc:
            log.error("broker accounts %s left behind (nobody holds their password): %s", usernames, exc)  # noqa: TRY400

    async def ensure_hub_account(self, username: str, password: str, client_id: str) -> None:
        """Create (or reset) one of the hub's own accounts, bound to ``client_id``, with the role ``hub``."""
        await self._ensure_account(username, password, client_id, HUB_ROLE, hub_acls(self.prefix))

    async def create_node(self, node_id: str, password: str) -> None:
        """Create the node's two accounts, or reset their password; undo what was created if a step fails."""
        role, acls = node_role(node_id), node_acls(self.prefix, node_id)
        created = await create_together(
            node_accounts(node_id),
            lambda username, client_id: self._ensure_account(username, password, client_id, role, acls),
            self._delete,
        )
        log.info("%s: broker accounts %s", node_id, "created" if created else "reset")

    async def set_password(self, node_id: str, password: str) -> None:
        """Rotate: the old password stops working and the live sessions are dropped.

        When both accounts exist (the usual case) every change goes in one
        request, so the plugin applies all of it or, if it never got it, none.
        """
        names = [node_id, control_username(node_id)]
        roles = [await self.roles_of(u) for u in names]
        if any(r is not None and r != {node_role(node_id)} for r in roles):
            raise AccountConflict(f"broker accounts of '{node_id}' exist and are not the hub's to manage")
        if any(r is None for r in roles):  # a node claimed before it had a control account: create what is missing
            await self.create_node(node_id, password)
        ids = [uplink_client_id(node_id), control_client_id(node_id)]
        commands: list[dict[str, Any]] = []
        for username, client_id in zip(names, ids, strict=True):
            commands += [
                {"command": "setClientPassword", "username": username, "password": password},
                {"command": "setClientId", "username": username, "clientid": client_id},
                # Disabling then enabling disconnects the current session, so it cannot live on old credentials.
                {"command": "disableClient", "username": username},
            ]
        await self.run(commands + [{"command": "enableClient", "username": u} for u in names])
        log.info("%s: broker password rotated", node_id)

    async def disable(self, node_id: str) -> None:
        """Revoke: both accounts are disabled and their live sessions disconnected."""
        names = [node_id, control_username(node_id)]
        await self.run([{"command": "disableClient", "username": u} for u in names], tolerate=NOT_FOUND)
        log.info("%s: broker accounts disabled", node_id)
