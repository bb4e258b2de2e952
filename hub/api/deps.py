"""Dependency aliases for route handlers: the hub's services and the calling principal.

Roles and scopes are checked by the one policy in :mod:`hub.api.policy`, never here.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.api.services import HubServices
from hub.errors import NotFound
from hub.registry.access import Access, AuthError, Principal
from hub.registry.models import Node
from hub.registry.service import NodeFilter

ANONYMOUS = Principal("anonymous", "viewer", None, frozenset())
_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer cs_<id>_<secret>`")


def _services(request: Request) -> HubServices:
    services: HubServices = request.app.state.services
    return services


Services = Annotated[HubServices, Depends(_services)]


async def _principal(
    services: Services, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if creds is None:
        if services.open_read:
            return ANONYMOUS  # development only (HubSettings.dev_open_read): reads without a token
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    try:
        return await asyncio.to_thread(Access(services.registry).authenticate, creds.credentials)
    except AuthError as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc


CurrentPrincipal = Annotated[Principal, Depends(_principal)]


def ensure_sees(principal: Principal, region_code: str, department_id: str, what: str) -> None:
    """Answer 404 (not 403: do not reveal what exists) for an object outside the principal's scope."""
    if not principal.sees(region_code, department_id):
        raise HTTPException(404, f"no {what}")


async def nodes_in_scope(
    services: HubServices, principal: Principal, *, region: str | None = None, department: str | None = None
) -> list[Node]:
    """The nodes the caller may see, within ``region`` (its subtree) and ``department``; 404: unknown region."""
    flt = NodeFilter(
        region=region or None,
        department=department or None,
        within_regions=principal.regions,
        within_departments=principal.departments,
    )
    try:
        return await asyncio.to_thread(services.registry.list_nodes, flt)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
