"""``/api/v1/stations``: dial-in stations (HJ 212 monitors, SL 651 RTUs, 4G DTU sites) and their commands.

A station is a node with a protocol identity; its readings are under
``/api/v1/devices/<node>.<device>/latest`` and ``/readings`` like any
device's. Reads need the caller to see the node's region and department;
registering a station and sending it commands need an operator or
administrator in scope. Passwords are never returned.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from hub.api.convert import node_public
from hub.api.deps import Services, ensure_sees
from hub.api.policy import CommandStation, CreateInPlace, ReadList, ReadNode
from hub.api.schemas import NodeId, NodePublic
from hub.errors import NotFound, RegistryError
from hub.registry.models import Node
from hub.stations.directory import StationDirectory, StationInfo, StationSpec
from hub.stations.errors import StationError
from hub.stations.protocols import PROTOCOLS

router = APIRouter(prefix="/api/v1/stations", tags=["stations"])


class StationPublic(BaseModel):
    """A station as the API shows it."""

    node: NodePublic
    protocol: str
    address: str
    has_password: bool
    connected: bool


class StationCommand(BaseModel):
    """A downlink command (``clock_set``, ``clock_query``, ``query_realtime``, ...; docs/stations.md)."""

    action: Annotated[str, Field(pattern=r"^[a-z_]{1,32}$")]
    args: Annotated[dict[str, int | str], Field(max_length=8)] = Field(default_factory=dict)


class StationAnswer(BaseModel):
    """The station's first answer to a command."""

    function: str
    payload: dict[str, Any]


def _public(services: Services, info: StationInfo, node: Node) -> StationPublic:
    gateway = services.stations
    connected = gateway is not None and gateway.connected(info.node) is not None
    return StationPublic(
        node=node_public(node),
        protocol=info.protocol,
        address=info.address,
        has_password=bool(info.secret),
        connected=connected,
    )


@router.post("", operation_id="createStation", status_code=201)
async def create_station(services: Services, principal: CreateInPlace, body: StationSpec) -> StationPublic:
    """Register a station: its node, identity, password and devices (operators and administrators, in scope)."""
    ensure_sees(principal, body.region, body.department, f"region '{body.region}'")
    protocols = set(services.stations.protocols) if services.stations is not None else set(PROTOCOLS)
    directory = StationDirectory(services.registry)
    try:
        await asyncio.to_thread(directory.create, principal.user_id, body, services.profiles, protocols)
        info, node = await asyncio.to_thread(directory.get, body.id)
    except RegistryError as exc:
        raise HTTPException(409 if "exists" in str(exc) or "address" in str(exc) else 400, str(exc)) from exc
    await services.notify_registry_changed()
    return _public(services, info, node)


@router.get("", operation_id="listStations")
async def list_stations(
    services: Services, principal: ReadList, protocol: Annotated[str | None, Query(max_length=16)] = None
) -> list[StationPublic]:
    """List the stations the caller may see, optionally of one protocol."""
    rows = await asyncio.to_thread(StationDirectory(services.registry).all)
    return [
        _public(services, info, node)
        for info, node in rows
        if principal.sees(node.region_code, node.department_id) and (protocol is None or info.protocol == protocol)
    ]


async def _station(services: Services, principal: Any, node_id: str) -> tuple[StationInfo, Node]:
    try:
        info, node = await asyncio.to_thread(StationDirectory(services.registry).get, node_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    ensure_sees(principal, node.region_code, node.department_id, f"station '{node_id}'")
    return info, node


@router.get("/{node_id}", operation_id="getStation")
async def get_station(services: Services, principal: ReadNode, node_id: NodeId) -> StationPublic:
    """Return one station."""
    return _public(services, *await _station(services, principal, node_id))


@router.post("/{node_id}/commands", operation_id="commandStation")
async def command_station(
    services: Services, principal: CommandStation, node_id: NodeId, body: StationCommand
) -> StationAnswer:
    """Send a command to a connected station and return its first answer (504 when it does not answer)."""
    await _station(services, principal, node_id)
    if services.stations is None:
        raise HTTPException(409, "the hub runs no station gateway")
    try:
        answer = await services.stations.command(node_id, body.action, body.args)
    except StationError as exc:
        status = {"offline": 409, "timeout": 504}.get(exc.reason, 400)
        raise HTTPException(status, str(exc)) from exc
    return StationAnswer(function=answer.function, payload=dict(answer.payload))
