"""Node placeholders, the technician's claim, node credentials and agent configuration."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException

from citysense.agentconfig import HubLink
from hub.api.access_schemas import (
    ClaimRequest,
    ClaimResult,
    MqttCredentialsPublic,
    NodeCreate,
    NodeCreated,
    NodeUpdate,
)
from hub.api.convert import node_public
from hub.api.deps import Services, ensure_sees
from hub.api.policy import ChangeNode, CreateInPlace, InstallInPlace
from hub.api.schemas import NodeId, NodePublic
from hub.errors import BrokerError, NotFound, RegistryError
from hub.registry.access import Principal
from hub.registry.models import Node
from hub.registry.provision import ClaimError, IncompleteClaim, NodeCredentials, Provisioning
from hub.registry.render import render_agent_config

router = APIRouter(prefix="/api/v1", tags=["provisioning"])
BROKER_TIMEOUT_S = 15.0


def _prov(services: Services) -> Provisioning:
    return Provisioning(services.registry, services.kinds)


def _installer(services: Services, loop: asyncio.AbstractEventLoop) -> Callable[[NodeCredentials], None]:
    """Return a callback (run in the worker thread) that puts credentials into the broker, if one is managed."""

    def install(creds: NodeCredentials) -> None:
        if services.dynsec is not None:
            fut = asyncio.run_coroutine_threadsafe(services.dynsec.create_node(creds.username, creds.password), loop)
            fut.result(BROKER_TIMEOUT_S)

    return install


async def _scoped_node(services: Services, principal: Principal, node_id: str) -> Node:
    try:
        node = await asyncio.to_thread(services.registry.get_node, node_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    ensure_sees(principal, node.region_code, node.department_id, f"node '{node_id}'")
    return node


def agent_config(services: Services, node: Node, creds: NodeCredentials) -> dict[str, Any]:
    """Render the node's full agent configuration with its credentials filled in."""
    kind = services.kinds.get(node.kind)
    if kind is None:
        raise HTTPException(409, f"node kind '{node.kind}' is not loaded")
    link = HubLink.model_validate({**services.hub_link.model_dump(), "username": creds.username, "password": None})
    node.config_version = node.desired_config_version  # detached copy: the agent starts on the desired version
    try:
        rendered = render_agent_config(node, kind, link).model_dump(mode="json", exclude_none=True)
    except RegistryError as exc:
        raise HTTPException(409, str(exc)) from exc
    rendered["hub"]["password"] = creds.password
    return rendered


@router.post("/nodes", operation_id="createNode", status_code=201, tags=["nodes"])
async def create_node(services: Services, principal: CreateInPlace, body: NodeCreate) -> NodeCreated:
    """Create a node placeholder and its one-time claim code (administrators and operators, in scope)."""
    kind = services.kinds.get(body.kind)
    if kind is None:
        raise HTTPException(400, f"unknown node kind '{body.kind}'")
    ensure_sees(principal, body.region, body.department or kind.department, f"region '{body.region}'")
    endpoints = {k: v.model_dump(exclude_none=True) for k, v in body.endpoints.items()}
    prov = _prov(services)
    try:
        node, code = await asyncio.to_thread(
            prov.create_placeholder,
            principal.user_id,
            body.id,
            body.kind,
            body.region,
            body.department,
            body.name,
            endpoints,
        )
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except RegistryError as exc:
        raise HTTPException(409, str(exc)) from exc
    await services.notify_registry_changed()
    return NodeCreated(node=node_public(node), claim_code=code)


@router.patch("/nodes/{node_id}", operation_id="updateNode", tags=["nodes"])
async def update_node(services: Services, principal: ChangeNode, node_id: NodeId, body: NodeUpdate) -> NodePublic:
    """Change a node's name, region or location (administrators and operators, in scope)."""
    node = await _scoped_node(services, principal, node_id)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "region" in changes:
        ensure_sees(principal, changes["region"], node.department_id, f"region '{changes['region']}'")
    try:
        updated = await asyncio.to_thread(_prov(services).update, principal.user_id, node_id, changes)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    await services.notify_registry_changed()
    return node_public(updated)


@router.post("/provisioning/claim", operation_id="claimNode")
async def claim_node(services: Services, principal: InstallInPlace, body: ClaimRequest) -> ClaimResult:
    """Claim a node on site with its code: bind its location, get its credentials and agent configuration."""
    prov = _prov(services)
    endpoints = {k: v.model_dump(exclude_none=True) for k, v in body.endpoints.items()}
    install = _installer(services, asyncio.get_running_loop())
    try:
        node, creds = await asyncio.to_thread(
            lambda: prov.claim(
                principal,
                body.claim_code,
                latitude=body.latitude,
                longitude=body.longitude,
                site=body.site,
                region=body.village,
                endpoints=endpoints,
                install=install,
            )
        )
    except ClaimError as exc:
        raise HTTPException(404, str(exc)) from exc
    except (NotFound, IncompleteClaim) as exc:
        raise HTTPException(400, str(exc)) from exc
    except (BrokerError, TimeoutError) as exc:
        raise HTTPException(503, f"broker did not take the node's account, nothing changed: {exc}") from exc
    await services.notify_registry_changed()
    return ClaimResult(
        node=node_public(node),
        credentials=MqttCredentialsPublic(
            username=creds.username, password=creds.password, generation=creds.generation
        ),
        agent_config=agent_config(services, node, creds),
    )


@router.post("/nodes/{node_id}/credentials", operation_id="rotateNodeCredentials", tags=["nodes"])
async def rotate_credentials(services: Services, principal: ChangeNode, node_id: NodeId) -> ClaimResult:
    """Issue new MQTT credentials for a node; the old password stops working at once."""
    await _scoped_node(services, principal, node_id)
    loop = asyncio.get_running_loop()

    def install(creds: NodeCredentials) -> None:
        if services.dynsec is not None:
            fut = asyncio.run_coroutine_threadsafe(services.dynsec.set_password(creds.username, creds.password), loop)
            fut.result(BROKER_TIMEOUT_S)

    try:
        creds = await asyncio.to_thread(_prov(services).rotate, principal.user_id, node_id, install)
    except (BrokerError, TimeoutError) as exc:
        raise HTTPException(503, f"broker unreachable, nothing changed: {exc}") from exc
    node = await asyncio.to_thread(services.registry.get_node, node_id)
    return ClaimResult(
        node=node_public(node),
        credentials=MqttCredentialsPublic(
            username=creds.username, password=creds.password, generation=creds.generation
        ),
        agent_config=agent_config(services, node, creds),
    )


@router.delete("/nodes/{node_id}/credentials", operation_id="revokeNodeCredentials", status_code=204, tags=["nodes"])
async def revoke_credentials(services: Services, principal: ChangeNode, node_id: NodeId) -> None:
    """Revoke a node's MQTT credentials and disconnect it."""
    await _scoped_node(services, principal, node_id)
    try:
        username = await asyncio.to_thread(_prov(services).revoke, principal.user_id, node_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    if services.dynsec is not None:
        try:
            await services.dynsec.disable(username)
        except BrokerError as exc:
            raise HTTPException(503, f"revoked in the registry, broker not updated yet: {exc}") from exc
