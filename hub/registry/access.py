"""Users, API tokens, the principal behind a request, and the audit log.

Roles (``ROLES``) are scoped two ways, as the city's "1+28+N" command
structure is: a region subtree (``None`` = the whole city) and a set of
departments (empty = all). A principal sees a node when both match.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import NotFound, RegistryError
from hub.registry import secrets
from hub.registry.accounts import ApiToken, AuditEntry, User
from hub.registry.service import Registry

_Row = TypeVar("_Row", ApiToken, User)
ROLES = ("administrator", "operator", "technician", "viewer")
RANK = {role: len(ROLES) - i for i, role in enumerate(ROLES)}  # administrator 4 > operator > technician > viewer 1


def now_ms() -> int:
    """Wall-clock milliseconds."""
    return time.time_ns() // 1_000_000


class AuthError(RegistryError):
    """The token is missing, malformed, unknown, revoked or expired."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, with their role and scope resolved."""

    user_id: str
    role: str
    regions: frozenset[str] | None  # None: every region
    departments: frozenset[str]  # empty: every department
    token_id: str | None = None

    def sees(self, region_code: str, department_id: str) -> bool:
        """True when a node in ``region_code`` owned by ``department_id`` is in scope."""
        if self.regions is not None and region_code not in self.regions:
            return False
        return not self.departments or department_id in self.departments

    def covers(self, role: str, regions: frozenset[str] | None, departments: frozenset[str]) -> bool:
        """True when a principal with ``role`` and that scope holds nothing this one lacks (no escalation)."""
        if RANK.get(role, len(ROLES) + 1) > RANK[self.role]:
            return False
        if self.regions is not None and (regions is None or not regions <= self.regions):
            return False
        return not self.departments or (bool(departments) and departments <= self.departments)

    def covers_principal(self, other: Principal) -> bool:
        """:meth:`covers` for another principal."""
        return self.covers(other.role, other.regions, other.departments)

    @property
    def unscoped(self) -> bool:
        """True for a principal scoped to the whole city and every department."""
        return self.regions is None and not self.departments


def audit(s: Session, actor: str, action: str, target_type: str, target_id: str, before: Any, after: Any) -> None:
    """Add one audit entry to the session's transaction (so the write and its record commit together)."""
    s.add(
        AuditEntry(
            ts_ms=now_ms(),
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            before_json=None if before is None else json.dumps(before, sort_keys=True, default=str),
            after_json=None if after is None else json.dumps(after, sort_keys=True, default=str),
        )
    )


def user_dict(u: User) -> dict[str, Any]:
    """A user as the audit log records it (no password hash)."""
    return {
        "id": u.id,
        "role": u.role,
        "region_scope": u.region_scope,
        "departments": json.loads(u.departments_json),
        "active": u.active,
    }


class Access:
    """Account and token operations on a registry."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def upsert_user(
        self,
        actor: str,
        user_id: str,
        role: str,
        *,
        region_scope: str | None = None,
        departments: list[str] | None = None,
        password: str | None = None,
        display_name: str = "",
    ) -> User:
        """Create or replace a user."""
        if role not in ROLES:
            raise RegistryError(f"unknown role '{role}' (one of {', '.join(ROLES)})")
        if region_scope is not None:
            self.registry.region_subtree(region_scope)  # raises NotFound
        with self.registry.session() as s, s.begin():
            user = s.get(User, user_id)
            before = user_dict(user) if user else None
            user = user or User(id=user_id)
            user.role, user.region_scope, user.display_name = role, region_scope, display_name
            user.departments_json = json.dumps(sorted(departments or []))
            user.active = True
            if password is not None:
                user.password_hash = secrets.hash_password(password)
            s.add(user)
            s.flush()
            audit(s, actor, "user.upsert", "user", user_id, before, user_dict(user))
            return user

    def list_users(self) -> list[User]:
        """Every user, by id."""
        with self.registry.session() as s:
            return list(s.scalars(select(User).order_by(User.id)))

    def issue_token(
        self, actor: str, user_id: str, name: str = "", expires_ms: int | None = None, *, token: str | None = None
    ) -> tuple[ApiToken, str]:
        """Create a token for ``user_id``; return the row and the full token (shown once)."""
        if token is None:
            tid, secret, token = secrets.new_token()
        else:
            parts = secrets.split_token(token)
            if parts is None:
                raise RegistryError("a fixed token must look like cs_<id>_<secret>")
            tid, secret = parts
        with self.registry.session() as s, s.begin():
            if s.get(User, user_id) is None:
                raise NotFound(f"no user '{user_id}'")
            row = s.get(ApiToken, tid)
            if row is not None:  # a fixed (bootstrap) token given again: keep it
                return row, token
            row = ApiToken(
                id=tid,
                user_id=user_id,
                name=name,
                secret_hash=secrets.sha256(secret),
                created_ms=now_ms(),
                expires_ms=expires_ms,
            )
            s.add(row)
            audit(s, actor, "token.create", "token", tid, None, {"user": user_id, "name": name})
            return row, token

    def list_tokens(self, user_id: str | None = None) -> list[ApiToken]:
        """Tokens (never their secrets), of one user or all."""
        q = select(ApiToken).order_by(ApiToken.created_ms, ApiToken.id)
        if user_id is not None:
            q = q.where(ApiToken.user_id == user_id)
        with self.registry.session() as s:
            return list(s.scalars(q))

    def _one(self, model: type[_Row], key: str, what: str) -> _Row:
        with self.registry.session() as s:
            row = s.get(model, key)
            if row is None:
                raise NotFound(f"no {what} '{key}'")
            return row

    def get_token(self, token_id: str) -> ApiToken:
        """One token row; raises NotFound."""
        return self._one(ApiToken, token_id, "token")

    def revoke_token(self, actor: str, token_id: str) -> None:
        """Revoke a token; it fails authentication from now on."""
        with self.registry.session() as s, s.begin():
            row = s.get(ApiToken, token_id)
            if row is None:
                raise NotFound(f"no token '{token_id}'")
            if row.revoked_ms is None:
                row.revoked_ms = now_ms()
                audit(s, actor, "token.revoke", "token", token_id, {"revoked": False}, {"revoked": True})

    def check_password(self, user_id: str, password: str) -> bool:
        """True for an active user's right password; an unknown user costs the same work (no timing oracle)."""
        with self.registry.session() as s:
            user = s.get(User, user_id)
            stored = user.password_hash if user is not None and user.active else None
        ok = secrets.verify_password(password, stored or secrets.dummy_hash())
        return ok and stored is not None

    def record_login(self, user_id: str, ok: bool, address: str) -> None:
        """Audit one login attempt (GB/T 22239-2019 8.1.4.3: security events, with outcome and origin)."""
        with self.registry.session() as s, s.begin():
            action = "auth.login" if ok else "auth.login_failed"
            audit(s, user_id[:64], action, "user", user_id[:64], None, {"address": address[:90]})

    def login(self, user_id: str, password: str) -> str:
        """Check a password and issue a fresh token for the user."""
        if not self.check_password(user_id, password):
            raise AuthError("wrong user or password")
        return self.issue_token(user_id, user_id, "login")[1]

    def authenticate(self, token: str) -> Principal:
        """Resolve a bearer token to its principal."""
        parts = secrets.split_token(token)
        if parts is None:
            raise AuthError("malformed token")
        with self.registry.session() as s:
            row = s.get(ApiToken, parts[0])
            if row is None or not secrets.hmac_equal(row.secret_hash, secrets.sha256(parts[1])):
                raise AuthError("unknown token")
            if row.revoked_ms is not None or (row.expires_ms is not None and row.expires_ms <= now_ms()):
                raise AuthError("token revoked or expired")
            user = s.get(User, row.user_id)
            if user is None or not user.active:
                raise AuthError("user disabled")
        return self.principal_of(user, row.id)

    def principal_of(self, user: User, token_id: str | None = None) -> Principal:
        """The principal ``user`` acts as, with its region subtree resolved."""
        regions = frozenset(self.registry.region_subtree(user.region_scope)) if user.region_scope else None
        return Principal(user.id, user.role, regions, frozenset(json.loads(user.departments_json)), token_id)

    def get_user(self, user_id: str) -> User:
        """One user; raises NotFound."""
        return self._one(User, user_id, "user")

    def audit_log(self, target_id: str | None = None, after_id: int = 0, limit: int = 100) -> list[AuditEntry]:
        """Audit entries in order, from the ``after_id`` cursor."""
        q = select(AuditEntry).where(AuditEntry.id > after_id).order_by(AuditEntry.id).limit(limit)
        if target_id is not None:
            q = q.where(AuditEntry.target_id == target_id)
        with self.registry.session() as s:
            return list(s.scalars(q))
