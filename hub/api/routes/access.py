"""``/api/v1/auth``, ``/api/v1/tokens``, ``/api/v1/users``, ``/api/v1/audit``: who may do what, and what was done."""

from __future__ import annotations

import asyncio
import json
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from hub.api.access_schemas import (
    AuditPublic,
    Identity,
    LoginRequest,
    TokenCreate,
    TokenIssued,
    TokenPublic,
    UserPublic,
    UserUpdate,
)
from hub.api.deps import Services
from hub.api.policy import EVERYONE, AdminCity, ManageUsers, OwnOrGranted, allow
from hub.errors import NotFound, RegistryError
from hub.registry.access import Access, Principal
from hub.registry.accounts import ApiToken, User
from hub.registry.throttle import Key, LoginThrottle

router = APIRouter(prefix="/api/v1", tags=["access"])
Myself = Annotated[Principal, Depends(allow("read one's own identity", EVERYONE, "catalogue"))]
_HASH_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="password-hash")


def _token(t: ApiToken) -> TokenPublic:
    return TokenPublic(
        id=t.id,
        user_id=t.user_id,
        name=t.name,
        created_ms=t.created_ms,
        expires_ms=t.expires_ms,
        revoked_ms=t.revoked_ms,
    )


def _user(u: User) -> UserPublic:
    return UserPublic(
        id=u.id,
        display_name=u.display_name,
        role=u.role,
        region_scope=u.region_scope,
        departments=json.loads(u.departments_json),
        active=u.active,
    )


def _visible_users(access: Access, who: Principal) -> dict[str, User]:
    """The caller and, for an administrator, every user whose role and scope the caller covers."""
    users = access.list_users()
    if who.role != "administrator":
        return {u.id: u for u in users if u.id == who.user_id}
    return {u.id: u for u in users if u.id == who.user_id or who.covers_principal(access.principal_of(u))}


@router.post(
    "/auth/login",
    operation_id="login",
    responses={429: {"description": "Too many failed logins: wait `Retry-After` seconds"}},
)
async def login(services: Services, body: LoginRequest, request: Request) -> TokenIssued:
    """Exchange a user name and password for a new API token (throttled per user and per address)."""
    access = Access(services.registry)
    throttle = LoginThrottle(services.registry)
    address = request.client.host if request.client else "unknown"
    keys = [Key.user(body.username), Key.address(address)]
    wait = await asyncio.to_thread(throttle.wait_s, keys)
    if wait > 0:
        retry = str(math.ceil(wait))
        raise HTTPException(429, f"too many failed logins: try again in {retry} s", headers={"Retry-After": retry})
    # PBKDF2 on its own two threads: parallel logins queue among themselves, never in front of /health's.
    ok = await asyncio.get_running_loop().run_in_executor(
        _HASH_POOL, access.check_password, body.username, body.password
    )
    await asyncio.to_thread(access.record_login, body.username, ok, address)
    if not ok:
        await asyncio.to_thread(throttle.failed, keys)
        raise HTTPException(401, "wrong user or password")
    await asyncio.to_thread(throttle.succeeded, keys[0])
    row, token = await asyncio.to_thread(access.issue_token, body.username, body.username, "login")
    return TokenIssued(**_token(row).model_dump(), token=token)


@router.get("/auth/me", operation_id="whoAmI")
async def who_am_i(services: Services, principal: Myself) -> Identity:
    """The user, role and scope the presented token acts as (the web UI shows it before using a login link)."""
    user = await asyncio.to_thread(Access(services.registry).get_user, principal.user_id)
    return Identity(**_user(user).model_dump(), token_id=principal.token_id)


@router.get("/tokens", operation_id="listTokens")
async def list_tokens(services: Services, principal: OwnOrGranted) -> list[TokenPublic]:
    """List the caller's tokens (administrators: those of every user within their role and scope)."""
    access = Access(services.registry)
    users = await asyncio.to_thread(_visible_users, access, principal)
    return [_token(t) for t in await asyncio.to_thread(access.list_tokens) if t.user_id in users]


@router.post("/tokens", operation_id="createToken", status_code=201)
async def create_token(services: Services, principal: OwnOrGranted, body: TokenCreate) -> TokenIssued:
    """Issue a token for the caller, or (administrators) for a user within their scope; the secret is shown once."""
    user_id = body.user_id or principal.user_id
    if user_id != principal.user_id and principal.role != "administrator":
        raise HTTPException(403, "only administrators issue tokens for others")
    access = Access(services.registry)
    if user_id not in await asyncio.to_thread(_visible_users, access, principal):
        raise HTTPException(404, f"no user '{user_id}' within your scope")
    try:
        row, token = await asyncio.to_thread(access.issue_token, principal.user_id, user_id, body.name, body.expires_ms)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    return TokenIssued(**_token(row).model_dump(), token=token)


@router.delete("/tokens/{token_id}", operation_id="revokeToken", status_code=204)
async def revoke_token(
    services: Services, principal: OwnOrGranted, token_id: Annotated[str, Path(max_length=64)]
) -> None:
    """Revoke a token: one's own, or as administrator one of a user within one's scope."""
    access = Access(services.registry)
    try:
        row = await asyncio.to_thread(access.get_token, token_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    if row.user_id not in await asyncio.to_thread(_visible_users, access, principal):
        raise HTTPException(404, f"no token '{token_id}'")
    await asyncio.to_thread(access.revoke_token, principal.user_id, token_id)


@router.get("/users", operation_id="listUsers")
async def list_users(services: Services, principal: ManageUsers) -> list[UserPublic]:
    """List the users within the administrator's role and scope."""
    users = await asyncio.to_thread(_visible_users, Access(services.registry), principal)
    return [_user(u) for u in sorted(users.values(), key=lambda u: u.id)]


def _check_grant(access: Access, who: Principal, user_id: str, body: UserUpdate) -> None:
    """Refuse a change to a user outside ``who``'s scope (404) or one wider than ``who`` holds (403)."""
    try:
        existing = access.get_user(user_id)
    except NotFound:
        existing = None
    if existing is not None and user_id not in _visible_users(access, who):
        raise HTTPException(404, f"no user '{user_id}' within your scope")
    try:
        regions = frozenset(access.registry.region_subtree(body.region_scope)) if body.region_scope else None
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    if not who.covers(body.role, regions, frozenset(body.departments)):
        raise HTTPException(403, "you may not grant a role or scope wider than your own")


@router.put("/users/{user_id}", operation_id="putUser")
async def put_user(
    services: Services,
    principal: ManageUsers,
    user_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")],
    body: UserUpdate,
) -> UserPublic:
    """Create or replace a user's role and scope, within the administrator's own role and scope."""
    access = Access(services.registry)
    await asyncio.to_thread(_check_grant, access, principal, user_id, body)
    try:
        user = await asyncio.to_thread(
            lambda: access.upsert_user(
                principal.user_id,
                user_id,
                body.role,
                region_scope=body.region_scope,
                departments=body.departments,
                password=body.password.get_secret_value() if body.password else None,
                display_name=body.display_name,
            )
        )
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except RegistryError as exc:
        raise HTTPException(400, str(exc)) from exc
    return _user(user)


@router.get("/audit", operation_id="listAudit")
async def list_audit(
    services: Services,
    principal: AdminCity,
    target_id: Annotated[str | None, Query(max_length=128)] = None,
    after_id: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditPublic]:
    """List audit entries oldest first from the ``after_id`` cursor (city-wide administrators)."""
    rows = await asyncio.to_thread(Access(services.registry).audit_log, target_id, after_id, limit)
    return [
        AuditPublic(
            id=r.id,
            ts_ms=r.ts_ms,
            actor=r.actor,
            action=r.action,
            target_type=r.target_type,
            target_id=r.target_id,
            before=json.loads(r.before_json) if r.before_json else None,
            after=json.loads(r.after_json) if r.after_json else None,
        )
        for r in rows
    ]
