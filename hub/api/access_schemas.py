"""Create / Update / Public models of users, tokens, audit entries and provisioning."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from citysense.contract import ID_PATTERN
from hub.api.schemas import NodePublic

Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=64)]
RegionCode = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$")]
Role = Literal["administrator", "operator", "technician", "viewer"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(_In):
    """User name and password, exchanged for a token."""

    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


class UserUpdate(_In):
    """A user's role and scope (PUT replaces them)."""

    role: Role
    region_scope: RegionCode | None = None
    departments: list[Id] = Field(default_factory=list, max_length=64)
    display_name: Annotated[str, Field(max_length=128)] = ""
    password: Annotated[SecretStr | None, Field(min_length=8, max_length=256)] = None


class UserPublic(BaseModel):
    """A user as the API shows it (never the password hash)."""

    id: str
    display_name: str
    role: str
    region_scope: str | None
    departments: list[str]
    active: bool


class Identity(UserPublic):
    """Who a token acts as."""

    token_id: str | None


class TokenCreate(_In):
    """A new token; administrators may issue one for another user."""

    name: Annotated[str, Field(max_length=128)] = ""
    user_id: Annotated[str | None, Field(max_length=64)] = None
    expires_ms: Annotated[int | None, Field(ge=0, le=2**62)] = None


class TokenPublic(BaseModel):
    """A token's metadata (the secret is shown only once, in :class:`TokenIssued`)."""

    id: str
    user_id: str
    name: str
    created_ms: int
    expires_ms: int | None
    revoked_ms: int | None


class TokenIssued(TokenPublic):
    """A freshly issued token with its secret (``Authorization: Bearer <token>``)."""

    token: str


class AuditPublic(BaseModel):
    """One audit entry."""

    id: int
    ts_ms: int
    actor: str
    action: str
    target_type: str
    target_id: str
    before: Any
    after: Any


class Endpoint(_In):
    """Where one connection of the node kind is reached on site; for a DL/T 645 meter, its nameplate address."""

    host: Annotated[str | None, Field(max_length=253)] = None
    port: Annotated[int | None, Field(ge=1, le=65535)] = None
    serial_port: Annotated[str | None, Field(max_length=128)] = None
    address: Annotated[str | None, Field(pattern=r"^(?:[0-9]{1,12}|[Aa]{12})$", description="Meter address")] = None


class NodeCreate(_In):
    """A node placeholder, created before installation."""

    id: Id
    kind: Id
    region: RegionCode
    department: Id | None = None
    name: Annotated[str, Field(max_length=128)] = ""
    endpoints: dict[str, Endpoint] = Field(default_factory=dict, max_length=16)


class NodeCreated(BaseModel):
    """The placeholder and its one-time claim code."""

    node: NodePublic
    claim_code: str


class NodeUpdate(_In):
    """Fields an operator may change on a node (absent fields stay)."""

    name: Annotated[str | None, Field(max_length=128)] = None
    region: RegionCode | None = None
    latitude: Annotated[float | None, Field(ge=-90, le=90)] = None
    longitude: Annotated[float | None, Field(ge=-180, le=180)] = None
    site: Annotated[str | None, Field(max_length=128)] = None


class ClaimRequest(_In):
    """What a technician sends from the site."""

    claim_code: Annotated[str, Field(min_length=8, max_length=16)]
    latitude: Annotated[float, Field(ge=-90, le=90)]
    longitude: Annotated[float, Field(ge=-180, le=180)]
    site: Annotated[str, Field(min_length=1, max_length=128, description="Pole or station number")]
    village: RegionCode | None = Field(default=None, description="Region code of the village or community")
    endpoints: dict[str, Endpoint] = Field(default_factory=dict, max_length=16)


class MqttCredentialsPublic(BaseModel):
    """The node's broker account (the password is shown only once)."""

    username: str
    password: str
    generation: int


class ClaimResult(BaseModel):
    """Everything the node needs, in one download: its record, credentials and agent configuration."""

    node: NodePublic
    credentials: MqttCredentialsPublic
    agent_config: dict[str, Any]
