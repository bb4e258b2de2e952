"""First-start accounts: the administrator ``admin`` and its bootstrap token from the settings."""

from __future__ import annotations

import logging

from hub.config import HubSettings
from hub.registry.access import Access
from hub.registry.accounts import User
from hub.registry.service import Registry

log = logging.getLogger(__name__)
ADMIN = "admin"


def ensure_admin(settings: HubSettings, registry: Registry) -> str:
    """Create the city-wide administrator if missing and register the bootstrap token; return the token."""
    access = Access(registry)
    with registry.session() as s:
        exists = s.get(User, ADMIN) is not None
    if not exists:
        access.upsert_user("system", ADMIN, "administrator", display_name="Bootstrap administrator")
        log.info("%s: bootstrap administrator created", ADMIN)
    token = settings.bootstrap_admin_token.get_secret_value()
    access.issue_token("system", ADMIN, "bootstrap", token=token)
    return token
