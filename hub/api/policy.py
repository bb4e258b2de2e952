"""The one authorization policy: every route declares who may call it and where its resource's scope comes from.

A route takes its caller through ``Annotated[Principal, Depends(allow(...))]``.
The :class:`Rule` in that dependency is both the declaration and its
enforcement: the role check and, for a resource named in the path, the scope
check (404 outside the caller's regions and departments, so existence is not
revealed) run before the handler. ``tests/api/test_policy.py`` walks the app's
route table and fails for a route without a rule that is not in
:data:`PUBLIC`, and the authorization matrix is generated from the rules.

Scope kinds (``Rule.scope``):

- ``catalogue``: nothing scoped (node kinds, profiles, one's own token);
- ``list``: the handler filters its answer to the caller's scope;
- ``node``, ``device``, ``alarm``, ``silence``: the path parameter ``param``
  names the resource; its region and department are looked up here;
- ``body``: the region/department come in the request body; the handler
  refuses (404/403) a place outside the caller's scope;
- ``grant``: users and tokens; the target user must lie within the caller's
  scope and role (:meth:`hub.registry.access.Principal.covers`);
- ``city``: city-wide data; only a principal scoped to the whole city and
  every department may call it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.routing import APIRoute, iter_route_contexts

from hub.alerts.config import Match
from hub.alerts.errors import AlarmNotFound
from hub.api.deps import ANONYMOUS, CurrentPrincipal
from hub.api.services import HubServices
from hub.errors import NotFound
from hub.registry.access import Principal

Scope = Literal["catalogue", "list", "node", "device", "alarm", "silence", "body", "grant", "city"]
EVERYONE = frozenset({"administrator", "operator", "technician", "viewer"})
INSTALLERS = frozenset({"administrator", "operator", "technician"})
WRITERS = frozenset({"administrator", "operator"})
ADMINS = frozenset({"administrator"})
# Paths answered without a token, each for a reason: liveness, the API's own description, the login itself,
# signed links and provider callbacks that carry their own proof, Prometheus' scrape (counters only), the web UI.
PUBLIC = frozenset(
    {
        "/",
        "/api/v1/health",
        "/api/v1/auth/login",
        "/api/v1/alarms/{alarm_id}/ack-link",
        "/api/v1/notifications/receipts/{channel}",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
    }
)


@dataclass(frozen=True, slots=True)
class Rule:
    """Who may call a route and how the scope of its resource is found."""

    action: str
    roles: frozenset[str]
    scope: Scope
    param: str | None = None
    anonymous_read: bool = False  # development's dev_open_read may admit callers without a token

    async def __call__(self, request: Request, principal: CurrentPrincipal) -> Principal:
        if principal is ANONYMOUS and not self.anonymous_read:
            raise HTTPException(401, "this operation needs a bearer token", headers={"WWW-Authenticate": "Bearer"})
        if principal.role not in self.roles:
            raise HTTPException(403, f"role '{principal.role}' may not {self.action}")
        if self.scope == "city" and not principal.unscoped:
            raise HTTPException(403, f"{self.action} spans the whole city: a city-wide scope is needed")
        resolve = _RESOLVERS.get(self.scope)
        value = request.path_params.get(self.param or "")
        if resolve is not None and isinstance(value, str) and not await resolve(request, principal, value):
            raise HTTPException(404, f"no {self.scope} '{value}'")
        return principal


def allow(
    action: str, roles: frozenset[str], scope: Scope, param: str | None = None, *, anonymous_read: bool = False
) -> Rule:
    """Declare (and enforce) a route's permission; use as ``Annotated[Principal, Depends(allow(...))]``."""
    if (scope in _RESOLVERS) != (param is not None):
        raise ValueError(f"scope '{scope}' {'needs' if scope in _RESOLVERS else 'takes no'} path parameter")
    return Rule(action, roles, scope, param, anonymous_read)


def services_of(request: Request) -> HubServices:
    """The hub's services behind a request."""
    services: HubServices = request.app.state.services
    return services


async def _node_in_scope(request: Request, who: Principal, node_id: str) -> bool:
    try:
        node = await asyncio.to_thread(services_of(request).registry.get_node, node_id)
    except NotFound:
        return True  # nothing to reveal: the handler answers its own 404
    return who.sees(node.region_code, node.department_id)


async def _device_in_scope(request: Request, who: Principal, uid: str) -> bool:
    registry = services_of(request).registry
    try:
        dev = await asyncio.to_thread(registry.get_device, uid)
        node = await asyncio.to_thread(registry.get_node, dev.node_id)
    except NotFound:
        return True
    return who.sees(node.region_code, node.department_id)


async def _alarm_in_scope(request: Request, who: Principal, alarm_id: str) -> bool:
    engine = getattr(request.app.state, "alerts", None)
    if engine is None or not alarm_id.isdigit() or int(alarm_id) >= 2**63:
        return True  # the handler answers 503 or 422
    try:
        alarm, _ = await asyncio.to_thread(engine.store.get, int(alarm_id))
    except AlarmNotFound:
        return True
    return who.sees(alarm.region_code, alarm.department_id)


def match_within(who: Principal, match: Match) -> bool:
    """True when every alarm ``match`` can select lies in ``who``'s scope (a scoped caller names its places)."""
    if who.regions is not None and (not match.regions or not set(match.regions) <= who.regions):
        return False
    return not who.departments or (bool(match.departments) and set(match.departments) <= who.departments)


async def _silence_in_scope(request: Request, who: Principal, silence_id: str) -> bool:
    engine = getattr(request.app.state, "alerts", None)
    if engine is None or not silence_id.isdigit() or int(silence_id) >= 2**63:
        return True
    rows = await asyncio.to_thread(engine.store.silences)
    row = next((r for r in rows if r.id == int(silence_id)), None)
    return row is None or match_within(who, Match.model_validate(json.loads(row.match_json)))


_RESOLVERS: dict[str, Callable[[Request, Principal, str], Awaitable[bool]]] = {
    "node": _node_in_scope,
    "device": _device_in_scope,
    "alarm": _alarm_in_scope,
    "silence": _silence_in_scope,
}

# The rules the routes use, named once so each route reads as a sentence.
ReadList = Annotated[Principal, Depends(allow("list", EVERYONE, "list", anonymous_read=True))]
ReadCatalogue = Annotated[Principal, Depends(allow("read the catalogue", EVERYONE, "catalogue", anonymous_read=True))]
ReadNode = Annotated[Principal, Depends(allow("read a node", EVERYONE, "node", "node_id", anonymous_read=True))]
ReadDevice = Annotated[Principal, Depends(allow("read a device", EVERYONE, "device", "uid", anonymous_read=True))]
ReadCity = Annotated[Principal, Depends(allow("read city-wide data", EVERYONE, "city", anonymous_read=True))]
ChangeNode = Annotated[Principal, Depends(allow("change a node", WRITERS, "node", "node_id"))]
CommandNode = Annotated[Principal, Depends(allow("command a node", INSTALLERS, "node", "node_id"))]
CreateInPlace = Annotated[Principal, Depends(allow("create there", WRITERS, "body"))]
InstallInPlace = Annotated[Principal, Depends(allow("install there", INSTALLERS, "body"))]
CommandStation = Annotated[Principal, Depends(allow("command a station", WRITERS, "node", "node_id"))]
AdminCity = Annotated[Principal, Depends(allow("administer the city", ADMINS, "city"))]
OwnOrGranted = Annotated[Principal, Depends(allow("manage tokens", EVERYONE, "grant"))]
ManageUsers = Annotated[Principal, Depends(allow("manage users", ADMINS, "grant"))]


def rule_of(route: APIRoute) -> Rule | None:
    """The rule a route declared (searched through its dependency tree), or ``None``."""
    todo = [route.dependant]
    while todo:
        dep = todo.pop()
        if isinstance(dep.call, Rule):
            return dep.call
        todo.extend(dep.dependencies)
    return None


def declared(app: FastAPI) -> Iterator[tuple[APIRoute, Rule | None]]:
    """Every API route of ``app`` (included routers too) with its rule."""
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute):
            yield route, rule_of(route)
