"""``/api/v1/nodes/{id}/commands`` and ``/config``: remote commands and configuration pushes, audited."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from citysense.contract import ID_PATTERN, Command
from citysense.errors import CodecError
from citysense.profiles.transform import check_value
from hub.api.deps import Services, ensure_sees
from hub.api.policy import WRITERS, ChangeNode, CommandNode
from hub.api.schemas import NodeId
from hub.errors import BrokerError, RegistryError
from hub.registry.access import Principal, audit
from hub.registry.models import Node
from hub.registry.provision import Provisioning
from hub.registry.render import render_agent_config
from hub.stations.errors import StationError

METRIC_PATTERN = r"^[a-z](?:_?[a-z0-9])*$"  # as citysense.contract.MetricName
router = APIRouter(prefix="/api/v1/nodes", tags=["control"])


AGENT_ACTIONS = frozenset({"write", "probe", "ping", "time_sync"})


class CommandRequest(BaseModel):
    """A command for one node: write a point, probe every device, ping, or set its DL/T 645 meters' clocks.

    For a dial-in station (SL 651 RTU, HJ 212 monitor) the action is one of its protocol's downlink
    commands (``clock_query``, ``clock_set``, ``query_realtime``, ...; docs/stations.md) with ``args``.
    """

    model_config = ConfigDict(extra="forbid")
    action: Annotated[
        str, Field(pattern=r"^[a-z_]{1,32}$", description="write, probe, ping, time_sync; or a station command")
    ]
    args: Annotated[dict[str, int | str], Field(max_length=8, description="A station command's arguments")] = Field(
        default_factory=dict
    )
    device: Annotated[str | None, Field(pattern=ID_PATTERN, description="Local device id on the node (write)")] = None
    metric: Annotated[str | None, Field(pattern=METRIC_PATTERN, max_length=64, description="Point to write")] = None
    value: (
        Annotated[int, Field(ge=-(2**63), le=2**63 - 1)] | float | bool | Annotated[str, Field(max_length=256)] | None
    ) = None
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0


class CommandResult(BaseModel):
    """The node's answer."""

    id: str
    ok: bool
    error: str | None
    result: Any = None


class ConfigPushed(BaseModel):
    """The version now desired for the node."""

    node: str
    desired_config_version: int


async def _node(services: Services, principal: Principal, node_id: str) -> Node:
    try:
        node = await asyncio.to_thread(services.registry.get_node, node_id)
    except Exception as exc:
        raise HTTPException(404, f"no node '{node_id}'") from exc
    ensure_sees(principal, node.region_code, node.department_id, f"node '{node_id}'")
    return node


def check_write(services: Services, node: Node, device: str | None, metric: str | None, value: Any) -> Any:
    """Refuse (400) a write the device cannot take, before anything is sent; return the value to send.

    A state name of an enumerated point (``"flashing_yellow"``) is sent as its number.
    """
    dev = next((d for d in node.devices if d.local_id == device), None)
    if dev is None or metric is None or value is None:
        raise HTTPException(400, "a write needs an existing device, a metric and a value")
    profile = services.profiles[dev.profile]
    try:
        point = profile.point(metric)
    except KeyError as exc:
        raise HTTPException(400, f"device {device} has no point '{metric}'") from exc
    if not point.writable:
        raise HTTPException(400, f"'{metric}' is not writable")
    if point.enum is not None and isinstance(value, str):
        by_name = {name: code for code, name in point.enum.items()}
        if value not in by_name:
            raise HTTPException(400, f"'{value}' is not a state of '{metric}' ({', '.join(point.enum.values())})")
        value = by_name[value]
    try:
        check_value(profile, point, value)  # the node applies scale_from with its device's decimals
    except CodecError as exc:
        raise HTTPException(400, str(exc)) from exc
    return value


def _record(services: Services, actor: str, node_id: str, what: dict[str, Any]) -> None:
    with services.registry.session() as s, s.begin():
        audit(s, actor, f"command.{what['action']}", "node", node_id, None, what)


@router.post("/{node_id}/commands", operation_id="sendCommand")
async def send_command(
    services: Services, principal: CommandNode, node_id: NodeId, body: CommandRequest
) -> CommandResult:
    """Send a command and wait for the node's reply; writes need an operator, probes a technician."""
    if body.action in ("write", "time_sync") and principal.role not in WRITERS:  # a meter's clock sets its tariffs
        verb = "write points" if body.action == "write" else "set meter clocks"
        raise HTTPException(403, f"role '{principal.role}' may not {verb}")
    node = await _node(services, principal, node_id)
    if node.kind.endswith("_station"):  # a dial-in station: its own protocol's downlink, through the gateway
        return await _station_command(services, principal, node_id, body)
    if body.action not in AGENT_ACTIONS:
        raise HTTPException(422, f"an agent takes {', '.join(sorted(AGENT_ACTIONS))}, not '{body.action}'")
    value = body.value
    if body.action == "write":
        value = check_write(services, node, body.device, body.metric, body.value)
    if services.commands is None:
        raise HTTPException(503, "no broker connection for commands")
    now = time.time_ns() // 1_000_000
    cmd = Command(
        id=uuid.uuid4().hex,
        node=node_id,
        action=body.action,
        device=body.device,
        metric=body.metric,
        value=value,
        expires_ms=now + int(body.timeout_s * 1000),
    )
    what: dict[str, Any] = {"id": cmd.id, **body.model_dump(exclude={"timeout_s", "args"})}
    try:
        reply = await services.commands.send(cmd, body.timeout_s)
    except BrokerError as exc:
        await asyncio.to_thread(_record, services, principal.user_id, node_id, {**what, "ok": False, "error": str(exc)})
        raise HTTPException(504, str(exc)) from exc
    await asyncio.to_thread(
        _record, services, principal.user_id, node_id, {**what, "ok": reply.ok, "error": reply.error}
    )
    return CommandResult(id=cmd.id, ok=reply.ok, error=reply.error, result=reply.result)


async def _station_command(
    services: Services, principal: Principal, node_id: str, body: CommandRequest
) -> CommandResult:
    """A station command (operators and administrators: setting a clock changes what the station records)."""
    if principal.role not in WRITERS:
        raise HTTPException(403, f"role '{principal.role}' may not command stations")
    if services.stations is None:
        raise HTTPException(409, "the hub runs no station gateway")
    what: dict[str, Any] = {"id": uuid.uuid4().hex, "action": body.action, "args": body.args}
    try:
        answer = await services.stations.command(node_id, body.action, body.args)
    except StationError as exc:
        await asyncio.to_thread(_record, services, principal.user_id, node_id, {**what, "ok": False, "error": str(exc)})
        status = {"offline": 409, "timeout": 504}.get(exc.reason, 400)
        raise HTTPException(status, str(exc)) from exc
    await asyncio.to_thread(_record, services, principal.user_id, node_id, {**what, "ok": True, "error": None})
    return CommandResult(id=what["id"], ok=True, error=None, result={"function": answer.function, **answer.payload})


@router.post("/{node_id}/config", operation_id="pushNodeConfig")
async def push_config(services: Services, principal: ChangeNode, node_id: NodeId) -> ConfigPushed:
    """Render the node's configuration from its kind, raise its version and push it (retained)."""
    node = await _node(services, principal, node_id)
    kind = services.kinds.get(node.kind)
    if kind is None:
        raise HTTPException(409, f"node kind '{node.kind}' is not loaded")
    try:  # rendered before anything changes: a placeholder without endpoints has no configuration yet
        render_agent_config(node, kind, services.hub_link)
    except RegistryError as exc:
        raise HTTPException(409, str(exc)) from exc
    if services.commands is None:
        raise HTTPException(503, "no broker connection for configuration pushes")
    version = await asyncio.to_thread(
        Provisioning(services.registry, services.kinds).bump_config, principal.user_id, node_id
    )
    node.config_version = version
    rendered = render_agent_config(node, kind, services.hub_link).model_dump(mode="json", exclude={"hub"})
    try:
        await services.commands.push_config(node_id, version, rendered)
    except BrokerError as exc:
        raise HTTPException(503, str(exc)) from exc
    return ConfigPushed(node=node_id, desired_config_version=version)
