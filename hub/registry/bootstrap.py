"""At start: the administrator ``admin`` with its bootstrap token, and the catalogue of profiles and node kinds."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from citysense.nodekinds import NodeKind
from citysense.profiles import ProfileSet
from hub.config import HubSettings
from hub.registry.access import Access
from hub.registry.accounts import NodeKindRow, ProfileRow, User
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
