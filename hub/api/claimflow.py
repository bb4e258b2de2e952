"""Claim, register and rotate: registry steps in short transactions, the broker call between them.

The broker call happens outside every registry transaction and within
``services.broker_deadline_s`` (each dynamic-security request has its own
timeout too), so a slow or stopped broker makes the claim answer 503 and
never holds the registry's write lock (hub/registry/claims.py). If the broker
refuses or does not answer, the compensating step gives the node back to its
claim code; the broker side undoes what it created (hub/broker/dynsec.py).
One claim or rotation per node at a time in this process.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hub.api.services import HubServices
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

log = logging.getLogger(__name__)


async def _in_broker(services: HubServices, what: str, node_id: str, password: str) -> None:
    if services.dynsec is None:
        return
    call = services.dynsec.create_node if what == "create" else services.dynsec.set_password
    try:
        async with asyncio.timeout(services.broker_deadline_s):
            await call(node_id, password)
    except TimeoutError as exc:
        raise BrokerError(f"the broker did not take the account in {services.broker_deadline_s} s") from exc


async def claim(services: HubServices, who: Principal, code: str, **location: Any) -> tuple[Node, NodeCredentials]:
    """Claim a node with its code: reserve it, create its broker accounts, record the claim."""
    reg = services.registry
    pending = await asyncio.to_thread(lambda: begin_claim(reg, services.kinds, who, code, **location))
    async with services.node_locks[pending.node_id]:
        try:
            await _in_broker(services, "create", pending.node_id, pending.credentials.password)
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
        await _in_broker(services, "rotate", node_id, creds.password)
        await asyncio.to_thread(record_rotation, services.registry, actor, node_id, creds)
    return creds
