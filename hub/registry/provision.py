"""Provisioning: node placeholders with claim codes, the technician's claim, node MQTT credentials.

A node's life: ``placeholder`` (created by an administrator, with a one-time
claim code) -> ``claimed`` (a technician on site bound it to a location and
downloaded its credentials and configuration) -> ``commissioned`` (its first
birth message arrived; see :meth:`Registry.set_node_status`). Nodes loaded
from a fleet file start commissioned.

Claim codes are short (40 bits) so that they can be typed; they are stored
salted and stretched (PBKDF2, hub/registry/secrets.py), are single-use, and
die with the claim. Node ids stay out of the broker's service account names
(hub/registry/names.py). The claim itself, around the broker call, is in
hub/registry/claims.py.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import select

from citysense.nodekinds import NodeKind, kind_devices
from hub.errors import NotFound, RegistryError
from hub.registry import secrets
from hub.registry.access import Principal, audit, now_ms
from hub.registry.accounts import NodeCredential, NodeKindRow
from hub.registry.claims import (
    ClaimError,
    IncompleteClaim,
    NodeCredentials,
    begin_claim,
    finish_claim,
    node_dict,
)
from hub.registry.models import Department, Device, Node, Region
from hub.registry.names import check_node_id
from hub.registry.service import Registry

__all__ = ["ClaimError", "IncompleteClaim", "NodeCredentials", "Provisioning", "node_dict"]

log = logging.getLogger(__name__)


class Provisioning:
    """Placeholders, claims and credentials over a registry."""

    def __init__(self, registry: Registry, kinds: dict[str, NodeKind]) -> None:
        self.registry = registry
        self.kinds = kinds

    def create_placeholder(
        self,
        actor: str,
        node_id: str,
        kind: str,
        region: str,
        department: str | None = None,
        name: str = "",
        endpoints: dict[str, dict[str, Any]] | None = None,
    ) -> tuple[Node, str]:
        """Register a node that has not been installed yet; return it and its claim code (shown once)."""
        check_node_id(node_id, self.registry.reserved_names)
        tpl = self.kinds.get(kind)
        if tpl is None:
            raise RegistryError(f"unknown node kind '{kind}'")
        code = secrets.new_claim_code()
        with self.registry.session() as s, s.begin():
            if s.get(Node, node_id) is not None:
                raise RegistryError(f"node '{node_id}' exists")
            if s.get(Region, region) is None:
                raise NotFound(f"no region '{region}'")
            dept = department or tpl.department
            if s.get(Department, dept) is None:
                raise NotFound(f"no department '{dept}'")
            node = Node(
                id=node_id,
                kind=kind,
                name=name,
                region_code=region,
                department_id=dept,
                site="",
                status="placeholder",
                claim_code_hash=secrets.hash_claim_code(code),
                endpoints_json=json.dumps(endpoints or {}),
                online=False,
                agent_version="",
                config_version=0,
                desired_config_version=1,
            )
            for d in kind_devices(tpl):
                node.devices.append(
                    Device(
                        uid=f"{node_id}.{d.id}",
                        local_id=d.id,
                        profile=d.profile,
                        connection=d.connection,
                        unit_id=d.unit_id,
                        poll_interval_s=d.poll_interval_s,
                    )
                )
            s.add(node)
            s.flush()
            audit(s, actor, "node.create", "node", node_id, None, node_dict(node))
        return self.registry.get_node(node_id), code

    def discard_placeholder(self, actor: str, node_id: str) -> None:
        """Compensating step of a registration whose claim failed: remove the placeholder it created."""
        with self.registry.session() as s, s.begin():
            node = s.get(Node, node_id)
            if node is None or node.status != "placeholder":
                return
            audit(s, actor, "node.delete", "node", node_id, node_dict(node), None)
            s.delete(node)

    def claim(self, who: Principal, code: str, **location: Any) -> tuple[Node, NodeCredentials]:
        """Claim without a broker to tell (registry only): the two steps of hub/registry/claims.py at once."""
        pending = begin_claim(self.registry, self.kinds, who, code, **location)
        return finish_claim(self.registry, who, pending), pending.credentials

    def set_kind_key(self, actor: str, kind: str, *, revoke: bool = False) -> str | None:
        """Create (or replace) the provisioning key of a node kind, or revoke it; return the new key."""
        if kind not in self.kinds:
            raise NotFound(f"no node kind '{kind}'")
        key = None if revoke else "pk_" + secrets.new_password()
        with self.registry.session() as s, s.begin():
            row = s.get(NodeKindRow, kind) or NodeKindRow(kind=kind, department_id=self.kinds[kind].department)
            had = row.provisioning_key_hash is not None
            row.provisioning_key_hash = secrets.sha256(key) if key else None
            s.add(row)
            audit(
                s,
                actor,
                "kind.key." + ("revoke" if revoke else "set"),
                "node_kind",
                kind,
                {"key": had},
                {"key": key is not None},
            )
        return key

    def register(
        self, who: Principal, key: str, node_id: str, home_region: str, department: str | None, endpoints: Any
    ) -> str:
        """Create a placeholder with its kind's provisioning key; return its claim code (the caller claims it)."""
        with self.registry.session() as s:
            row = s.scalar(select(NodeKindRow).where(NodeKindRow.provisioning_key_hash == secrets.sha256(key)))
        if row is None:
            raise ClaimError("unknown or revoked provisioning key")
        kind = self.kinds[row.kind]
        if not who.sees(home_region, department or kind.department):
            raise ClaimError(f"region '{home_region}' is outside your scope")
        missing = [c.id for c in kind.connections if c.id not in (endpoints or {})]
        if missing:
            raise IncompleteClaim(f"node {node_id}: give the site address of connection(s) {', '.join(missing)}")
        return self.create_placeholder(who.user_id, node_id, kind.kind, home_region, department)[1]

    def update(self, actor: str, node_id: str, changes: dict[str, Any]) -> Node:
        """Change a node's name, region or location; recorded in the audit log."""
        with self.registry.session() as s, s.begin():
            node = s.get(Node, node_id)
            if node is None:
                raise NotFound(f"no node '{node_id}'")
            if "region" in changes and s.get(Region, changes["region"]) is None:
                raise NotFound(f"no region '{changes['region']}'")
            before = node_dict(node)
            for key, value in changes.items():
                setattr(node, "region_code" if key == "region" else key, value)
            audit(s, actor, "node.update", "node", node_id, before, node_dict(node))
        return self.registry.get_node(node_id)

    def bump_config(self, actor: str, node_id: str) -> int:
        """Raise the node's desired configuration version (a new configuration is to be pushed)."""
        with self.registry.session() as s, s.begin():
            node = s.get(Node, node_id)
            if node is None:
                raise NotFound(f"no node '{node_id}'")
            before = {"desired_config_version": node.desired_config_version}
            node.desired_config_version = max(node.desired_config_version, node.config_version) + 1
            audit(
                s,
                actor,
                "config.push",
                "node",
                node_id,
                before,
                {"desired_config_version": node.desired_config_version},
            )
            return node.desired_config_version

    def active_username(self, node_id: str) -> str:
        """The broker username of the node's active credentials; :class:`NotFound` when it has none."""
        with self.registry.session() as s:
            row = s.get(NodeCredential, node_id)
            if row is None or row.revoked_ms is not None:
                raise NotFound(f"node '{node_id}' has no active credentials")
            return row.username

    def revoke(self, actor: str, node_id: str) -> str:
        """Mark the node's credentials revoked (after the broker disabled them); return the broker username."""
        with self.registry.session() as s, s.begin():
            row = s.get(NodeCredential, node_id)
            if row is None or row.revoked_ms is not None:
                raise NotFound(f"node '{node_id}' has no active credentials")
            row.revoked_ms = now_ms()
            audit(s, actor, "credentials.revoke", "node", node_id, {"revoked": False}, {"revoked": True})
        log.info("%s: credentials revoked by %s", node_id, actor)
        return row.username
