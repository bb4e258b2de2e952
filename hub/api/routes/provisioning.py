"""Node placeholders, the technician's claim, node credentials and agent configuration."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException

from citysense.agentconfig import HubLink
from citysense.brokerids import control_client_id, control_username, uplink_client_id
from hub.api import claimflow
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
from hub.broker.admin import AccountConflict
from hub.errors import BrokerError, NotFound, RegistryError
from hub.registry.access import Principal
from hub.registry.models import Node
from hub.registry.names import ReservedName
from hub.registry.provision import ClaimError, IncompleteClaim, NodeCredentials, Provisioning
from hub.registry.render import render_agent_config

router = APIRouter(prefix="/api/v1", tags=["provisioning"])


def _prov(services: Services) -> Provisioning:
    return Provisioning(services.registry, services.kinds)


# What a claim or registration answers to each failure (first match wins); nothing changed in any of them.
CLAIM_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (ClaimError, 404),
    (ReservedName, 422),
    (NotFound, 400),
    (IncompleteClaim, 400),
    (AccountConflict, 409),
    (BrokerError, 503),
    (RegistryError, 409),
)


def claim_failed(exc: RegistryError | BrokerError) -> HTTPException:
    """The HTTP answer to a failed claim or registration."""
    status = next(code for kind, code in CLAIM_STATUS if isinstance(exc, kind))
    return HTTPException(status, f"nothing changed: {exc}" if status >= 409 else str(exc))


async def claim_answer(services: Services, principal: Principal, code: str, **location: Any) -> ClaimResult:
    """Claim through hub/api/claimflow.py and map what can go wrong to 4xx/503 (shared with ``registerNode``)."""
    try:
        node, creds = await claimflow.claim(services, principal, code, **location)
    except (RegistryError, BrokerError) as exc:
        raise claim_failed(exc) from exc
    await services.notify_registry_changed()
    return _result(services, node, creds)


def _result(services: Services, node: Node, creds: NodeCredentials) -> ClaimResult:
    return ClaimResult(
        node=node_public(node),
        credentials=MqttCredentialsPublic(
            username=creds.username, password=creds.password, generation=creds.generation
        ),
        agent_config=agent_config(services, node, creds),
    )


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
    names = {
        "username": creds.username,
        "client_id": uplink_client_id(node.id),
        # The control account exists where the hub manages accounts; elsewhere the agent uses the uplink's.
        "control_username": control_username(creds.username) if services.dynsec is not None else None,
        "control_client_id": control_client_id(node.id),
    }
    link = HubLink.model_validate({**services.hub_link.model_dump(), **names, "password": None})
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
    except ReservedName as exc:
        raise HTTPException(422, str(exc)) from exc
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
    endpoints = {k: v.model_dump(exclude_none=True) for k, v in body.endpoints.items()}
    return await claim_answer(
        services,
        principal,
        body.claim_code,
        latitude=body.latitude,
        longitude=body.longitude,
        site=body.site,
        region=body.village,
        endpoints=endpoints,
    )


@router.post("/nodes/{node_id}/credentials", operation_id="rotateNodeCredentials", tags=["nodes"])
async def rotate_credentials(services: Services, principal: ChangeNode, node_id: NodeId) -> ClaimResult:
    """Issue new MQTT credentials for a node; the old password stops working (NATS tier: at its next login)."""
    await _scoped_node(services, principal, node_id)
    try:
        creds = await claimflow.rotate(services, principal.user_id, node_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except AccountConflict as exc:
        raise HTTPException(409, f"nothing changed: {exc}") from exc
    except BrokerError as exc:
        raise HTTPException(503, f"broker did not take the new password; rotate again: {exc}") from exc
    node = await asyncio.to_thread(services.registry.get_node, node_id)
    return _result(services, node, creds)


@router.delete("/nodes/{node_id}/credentials", operation_id="revokeNodeCredentials", status_code=204, tags=["nodes"])
async def revoke_credentials(services: Services, principal: ChangeNode, node_id: NodeId) -> None:
    """Revoke a node's MQTT credentials and disconnect it."""
    await _scoped_node(services, principal, node_id)
    try:
        await claimflow.revoke(services, principal.user_id, node_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except BrokerError as exc:
        raise HTTPException(503, f"broker did not disable the node, nothing changed; revoke again: {exc}") from exc
