"""Provisioning: node placeholders with claim codes, the technician's claim, node MQTT credentials.

A node's life: ``placeholder`` (created by an administrator, with a one-time
claim code) -> ``claimed`` (a technician on site bound it to a location and
downloaded its credentials and configuration) -> ``commissioned`` (its first
birth message arrived; see :meth:`Registry.set_node_status`). Nodes loaded
from a fleet file start commissioned.

Claim codes are short (40 bits) so that they can be typed; they are stored
as SHA-256 for lookup, are single-use, and die with the claim.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from citysense.nodekinds import NodeKind
from hub.errors import NotFound, RegistryError
from hub.registry import secrets
from hub.registry.access import Principal, audit, now_ms
from hub.registry.accounts import NodeCredential, NodeKindRow
from hub.registry.models import Department, Device, Node, Region
from hub.registry.service import Registry

log = logging.getLogger(__name__)


class ClaimError(RegistryError):
    """The claim code is unknown or already used, or the node is outside the technician's scope."""


class IncompleteClaim(RegistryError):
    """The claim lacks what the node's configuration needs (e.g. a connection's address)."""


@dataclass(frozen=True, slots=True)
class NodeCredentials:
    """What a node logs in to the broker with (the password exists only here, once)."""

    username: str
    password: str
    generation: int


def node_dict(n: Node) -> dict[str, Any]:
    """A node as the audit log records it."""
    return {
        "id": n.id,
        "kind": n.kind,
        "name": n.name,
        "region_code": n.region_code,
        "department_id": n.department_id,
        "latitude": n.latitude,
        "longitude": n.longitude,
        "site": n.site,
        "status": n.status,
        "desired_config_version": n.desired_config_version,
        "endpoints": json.loads(n.endpoints_json or "{}"),
    }


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
                claim_code_hash=secrets.sha256(code),
                endpoints_json=json.dumps(endpoints or {}),
                online=False,
                agent_version="",
                config_version=0,
                desired_config_version=1,
            )
            for d in tpl.devices:
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

    def claim(
        self,
        who: Principal,
        code: str,
        *,
        latitude: float,
        longitude: float,
        site: str,
        region: str | None = None,
        endpoints: dict[str, dict[str, Any]] | None = None,
        install: Callable[[NodeCredentials], None] = lambda _c: None,
    ) -> tuple[Node, NodeCredentials]:
        """Bind the node of ``code`` to its location and issue its MQTT credentials.

        ``install`` puts the credentials into the broker before the claim
        commits: if it raises, nothing changes and the code stays valid.
        """
        digest = secrets.sha256(secrets.normalise_claim_code(code))
        with self.registry.session() as s, s.begin():
            node = s.scalar(
                select(Node).options(selectinload(Node.devices)).where(Node.claim_code_hash == digest).with_for_update()
            )
            if node is None or node.status != "placeholder":
                raise ClaimError("unknown or already used claim code")
            target_region = region or node.region_code
            if s.get(Region, target_region) is None:
                raise NotFound(f"no region '{target_region}'")
            if not (who.sees(node.region_code, node.department_id) and who.sees(target_region, node.department_id)):
                raise ClaimError(f"node {node.id} is outside your scope")
            before = node_dict(node)
            node.latitude, node.longitude, node.site, node.region_code = latitude, longitude, site, target_region
            if endpoints:
                merged = {**json.loads(node.endpoints_json or "{}"), **endpoints}
                node.endpoints_json = json.dumps(merged)
            kind = self.kinds.get(node.kind)
            have = json.loads(node.endpoints_json or "{}")
            missing = [c.id for c in (kind.connections if kind else []) if c.id not in have]
            if missing:
                raise IncompleteClaim(f"node {node.id}: give the site address of connection(s) {', '.join(missing)}")
            node.status, node.claim_code_hash = "claimed", None
            node.claimed_by, node.claimed_ms = who.user_id, now_ms()
            creds = self._new_credentials(s, node.id)
            audit(s, who.user_id, "node.claim", "node", node.id, before, node_dict(node))
            s.flush()
            install(creds)
        log.info("%s: claimed by %s at %s", node.id, who.user_id, site)
        return self.registry.get_node(node.id), creds

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
        self, who: Principal, key: str, node_id: str, home_region: str, department: str | None, **claim: Any
    ) -> tuple[Node, NodeCredentials]:
        """Create and claim a node in one step with its kind's provisioning key (no placeholder needed)."""
        with self.registry.session() as s:
            row = s.scalar(select(NodeKindRow).where(NodeKindRow.provisioning_key_hash == secrets.sha256(key)))
        if row is None:
            raise ClaimError("unknown or revoked provisioning key")
        kind = self.kinds[row.kind]
        if not who.sees(home_region, department or kind.department):
            raise ClaimError(f"region '{home_region}' is outside your scope")
        missing = [c.id for c in kind.connections if c.id not in (claim.get("endpoints") or {})]
        if missing:
            raise IncompleteClaim(f"node {node_id}: give the site address of connection(s) {', '.join(missing)}")
        _, code = self.create_placeholder(who.user_id, node_id, kind.kind, home_region, department)
        return self.claim(who, code, **claim)

    def _new_credentials(self, s: Any, node_id: str) -> NodeCredentials:
        password = secrets.new_password()
        row = s.get(NodeCredential, node_id)
        if row is None:
            row = NodeCredential(node_id=node_id, username=node_id, generation=0, created_ms=now_ms())
            s.add(row)
        row.generation += 1
        row.password_hash = secrets.sha256(password)
        row.revoked_ms = None
        return NodeCredentials(row.username, password, row.generation)

    def rotate(
        self, actor: str, node_id: str, install: Callable[[NodeCredentials], None] = lambda _c: None
    ) -> NodeCredentials:
        """Issue a new password for the node; ``install`` replaces it in the broker before the change commits."""
        with self.registry.session() as s, s.begin():
            if s.get(Node, node_id) is None:
                raise NotFound(f"no node '{node_id}'")
            creds = self._new_credentials(s, node_id)
            audit(s, actor, "credentials.rotate", "node", node_id, None, {"generation": creds.generation})
            s.flush()
            install(creds)
        return creds

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

    def revoke(self, actor: str, node_id: str) -> str:
        """Mark the node's credentials revoked; return the broker username to disable."""
        with self.registry.session() as s, s.begin():
            row = s.get(NodeCredential, node_id)
            if row is None or row.revoked_ms is not None:
                raise NotFound(f"node '{node_id}' has no active credentials")
            row.revoked_ms = now_ms()
            audit(s, actor, "credentials.revoke", "node", node_id, {"revoked": False}, {"revoked": True})
        log.info("%s: credentials revoked by %s", node_id, actor)
        return row.username
