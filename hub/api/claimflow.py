"""Claim, register and rotate: registry steps in short transactions, the broker call between them.

The broker call happens outside every registry transaction and within
``services.broker_deadline_s`` (each dynamic-security request has its own
timeout too), so a slow or stopped broker makes the claim answer 503 and
never holds the registry's write lock (hub/registry/claims.py). If the broker
refuses or does not answer, the compensating step gives the node back to its
claim code; the broker side undoes what it created (hub/broker/admin.py).
One claim or rotation per node at a time in this process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from hub.api.services import HubServices
from hub.broker.admin import BrokerAdmin
from hub.errors import BrokerError
from hub.registry.access import Principal
from hub.registry.claims import (
    NodeCredentials,
    abort_claim,
    begin_claim,
    finish_claim,
    plan_rotation,
    record_rotation,
)
from hub.registry.models import Node
from hub.registry.provision import Provisioning

log = logging.getLogger(__name__)


async def _in_broker(services: HubServices, what: str, call: Callable[[BrokerAdmin], Awaitable[None]]) -> None:
    """Run one broker change (when the hub manages accounts) within ``broker_deadline_s``."""
    if services.dynsec is None:
        return
    try:
        async with asyncio.timeout(services.broker_deadline_s):
            await call(services.dynsec)
    except TimeoutError as exc:
        raise BrokerError(f"the broker did not {what} in {services.broker_deadline_s} s") from exc


async def claim(services: HubServices, who: Principal, code: str, **location: Any) -> tuple[Node, NodeCredentials]:
    """Claim a node with its code: reserve it, create its broker accounts, record the claim."""
    reg = services.registry
    pending = await asyncio.to_thread(lambda: begin_claim(reg, services.kinds, who, code, **location))
    async with services.node_locks[pending.node_id]:
        try:
            password = pending.credentials.password
            await _in_broker(services, "take the account", lambda d: d.create_node(pending.node_id, password))
        except BaseException:
            await asyncio.shield(asyncio.to_thread(abort_claim, reg, pending))
            raise
        try:
            node = await asyncio.to_thread(finish_claim, reg, who, pending)
        except BaseException:
            # Nobody holds the password just set, so the broker account is as good as locked; the code works again.
            log.exception("%s: claim not recorded after the broker took the account", pending.node_id)
            await asyncio.shield(asyncio.to_thread(abort_claim, reg, pending))
            raise
    log.info("%s: claimed by %s", node.id, who.user_id)
    return node, pending.credentials


async def rotate(services: HubServices, actor: str, node_id: str) -> NodeCredentials:
    """New broker password for a node; recorded once the broker has it (the old one is refused from then on)."""
    async with services.node_locks[node_id]:
        creds = await asyncio.to_thread(plan_rotation, services.registry, node_id)
        await _in_broker(services, "take the new password", lambda d: d.set_password(node_id, creds.password))
        await asyncio.to_thread(record_rotation, services.registry, actor, node_id, creds)
    return creds


async def revoke(services: HubServices, actor: str, node_id: str) -> None:
    """Revoke: the broker disables the accounts first (cutting the node off), then the registry records it.

    A broker that fails changes nothing; a registry that fails afterwards
    leaves the node cut off and the revocation to be repeated.
    """
    prov = Provisioning(services.registry, services.kinds)
    async with services.node_locks[node_id]:
        username = await asyncio.to_thread(prov.active_username, node_id)
        await _in_broker(services, "disable the accounts", lambda d: d.disable(username))
        await asyncio.to_thread(prov.revoke, actor, node_id)
