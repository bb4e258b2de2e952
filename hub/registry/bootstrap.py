"""At start: the administrator ``admin`` with its bootstrap token, and the catalogue of profiles and node kinds."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import select

from citysense.nodekinds import NodeKind
from citysense.profiles import ProfileSet
from hub.config import HubSettings
from hub.errors import RegistryError
from hub.registry import secrets
from hub.registry.access import Access, audit, now_ms
from hub.registry.accounts import ApiToken, NodeKindRow, ProfileRow, User
from hub.registry.service import Registry

log = logging.getLogger(__name__)
ADMIN = "admin"
BOOTSTRAP = "bootstrap"


def ensure_admin(settings: HubSettings, registry: Registry) -> str:
    """Create the city-wide administrator if missing and register the bootstrap token; return the token.

    The settings' token is the only live bootstrap token: a token registered
    from an earlier setting (another id, or the same id with another secret)
    is revoked, so changing the secret in the settings revokes the old one.
    """
    access = Access(registry)
    with registry.session() as s:
        exists = s.get(User, ADMIN) is not None
    if not exists:
        access.upsert_user("system", ADMIN, "administrator", display_name="Bootstrap administrator")
        log.info("%s: bootstrap administrator created", ADMIN)
    token = settings.bootstrap_admin_token.get_secret_value()
    parts = secrets.split_token(token)
    if parts is None:
        raise RegistryError("bootstrap_admin_token must look like cs_<id>_<secret>")
    tid, secret = parts
    digest = secrets.sha256(secret)
    with registry.session() as s, s.begin():
        rows = s.scalars(select(ApiToken).where(ApiToken.user_id == ADMIN, ApiToken.name == BOOTSTRAP))
        for row in rows:
            if row.revoked_ms is None and row.id != tid:
                row.revoked_ms = now_ms()
                audit(s, "system", "token.revoke", "token", row.id, {"revoked": False}, {"revoked": True})
                log.warning("bootstrap token %s revoked: the settings carry another one", row.id)
        current = s.get(ApiToken, tid)
        if current is not None and current.user_id != ADMIN:
            raise RegistryError(f"bootstrap_admin_token: id '{tid}' is another user's token; choose another id")
        if current is not None and not secrets.hmac_equal(current.secret_hash, digest):
            # Same id, new secret: the old secret stops working at once, the new one works.
            current.secret_hash, current.revoked_ms, current.created_ms = digest, None, now_ms()
            audit(s, "system", "token.rotate", "token", tid, None, {"user": ADMIN, "name": BOOTSTRAP})
            log.warning("bootstrap token %s: secret replaced from the settings", tid)
    if current is None:
        access.issue_token("system", ADMIN, BOOTSTRAP, token=token)
    return token


def sync_catalogue(registry: Registry, profiles: ProfileSet, kinds: Mapping[str, NodeKind]) -> None:
    """Record the loaded profiles and node kinds in the registry (provisioning keys are kept)."""
    with registry.session() as s, s.begin():
        for p in profiles.values():
            row = s.get(ProfileRow, p.id) or ProfileRow(name=p.id)
            row.manufacturer, row.model = p.manufacturer, p.model
            s.add(row)
        for k in kinds.values():
            krow = s.get(NodeKindRow, k.kind) or NodeKindRow(kind=k.kind)
            krow.department_id = k.department
            s.add(krow)
