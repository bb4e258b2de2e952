"""Node kinds and profiles, provisioning keys per node kind, and self-registration with a key."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from hub.api.access_schemas import ClaimResult, Endpoint, Id, RegionCode
from hub.api.deps import Services
from hub.api.policy import AdminCity, InstallInPlace, ReadCatalogue
from hub.api.routes.provisioning import claim_answer, claim_failed
from hub.errors import NotFound, RegistryError
from hub.registry.accounts import NodeKindRow, ProfileRow
from hub.registry.provision import Provisioning

router = APIRouter(prefix="/api/v1", tags=["provisioning"])


class NodeKindPublic(BaseModel):
    """A node kind: its department, devices, and whether a provisioning key is active."""

    kind: str
    name: str
    department: str
    devices: list[str]
    has_provisioning_key: bool


class ProfilePublic(BaseModel):
    """A device profile (the register map is in ``device_profiles/``)."""

    id: str
    manufacturer: str
    model: str


class ProvisioningKey(BaseModel):
    """A node kind's provisioning key (shown once)."""

    kind: str
    provisioning_key: str


class RegisterRequest(BaseModel):
    """Create and claim a node in one step with its kind's provisioning key."""

    model_config = ConfigDict(extra="forbid")
    provisioning_key: Annotated[str, Field(min_length=8, max_length=128)]
    node_id: Id
    region: RegionCode = Field(description="Region code of the village or community")
    department: Id | None = None
    latitude: Annotated[float, Field(ge=-90, le=90)]
    longitude: Annotated[float, Field(ge=-180, le=180)]
    site: Annotated[str, Field(min_length=1, max_length=128, description="Pole or station number")]
    endpoints: dict[str, Endpoint] = Field(default_factory=dict, max_length=16)


@router.get("/node-kinds", operation_id="listNodeKinds")
async def list_node_kinds(services: Services, principal: ReadCatalogue) -> list[NodeKindPublic]:
    """List the node kinds the hub renders configurations from."""
    with services.registry.session() as s:
        keyed = {r.kind for r in s.scalars(select(NodeKindRow).where(NodeKindRow.provisioning_key_hash.is_not(None)))}
    return [
        NodeKindPublic(
            kind=k.kind,
            name=k.name,
            department=k.department,
            devices=[d.id for d in k.devices],
            has_provisioning_key=k.kind in keyed,
        )
        for k in sorted(services.kinds.values(), key=lambda k: k.kind)
    ]


@router.get("/profiles", operation_id="listProfiles")
async def list_profiles(services: Services, principal: ReadCatalogue) -> list[ProfilePublic]:
    """List the device profiles known to the registry."""
    with services.registry.session() as s:
        rows = list(s.scalars(select(ProfileRow).order_by(ProfileRow.name)))
    return [ProfilePublic(id=r.name, manufacturer=r.manufacturer, model=r.model) for r in rows]


@router.post("/node-kinds/{kind}/provisioning-key", operation_id="createProvisioningKey", status_code=201)
async def create_key(
    services: Services, principal: AdminCity, kind: Annotated[str, Path(max_length=64)]
) -> ProvisioningKey:
    """Create or replace the provisioning key of a node kind (administrators); shown once."""
    try:
        key = await asyncio.to_thread(
            Provisioning(services.registry, services.kinds).set_kind_key, principal.user_id, kind
        )
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    assert key is not None
    return ProvisioningKey(kind=kind, provisioning_key=key)


@router.delete("/node-kinds/{kind}/provisioning-key", operation_id="revokeProvisioningKey", status_code=204)
async def revoke_key(services: Services, principal: AdminCity, kind: Annotated[str, Path(max_length=64)]) -> None:
    """Revoke the provisioning key of a node kind."""
    prov = Provisioning(services.registry, services.kinds)
    try:
        await asyncio.to_thread(lambda: prov.set_kind_key(principal.user_id, kind, revoke=True))
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc


@router.post("/provisioning/register", operation_id="registerNode")
async def register_node(services: Services, principal: InstallInPlace, body: RegisterRequest) -> ClaimResult:
    """Create and claim a node on site with its kind's provisioning key: credentials and configuration in one step."""
    prov = Provisioning(services.registry, services.kinds)
    endpoints = {k: v.model_dump(exclude_none=True) for k, v in body.endpoints.items()}
    try:
        code = await asyncio.to_thread(
            prov.register,
            principal,
            body.provisioning_key,
            body.node_id,
            body.region,
            body.department,
            endpoints,
        )
    except RegistryError as exc:
        raise claim_failed(exc) from exc
    location = {"latitude": body.latitude, "longitude": body.longitude, "site": body.site, "endpoints": endpoints}
    try:
        return await claim_answer(services, principal, code, **location)
    except HTTPException:  # nothing changed: the placeholder made for this registration goes again
        await asyncio.to_thread(prov.discard_placeholder, principal.user_id, body.node_id)
        raise
