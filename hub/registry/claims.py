"""The technician's claim and credential rotation, in short registry transactions around the broker call.

No registry transaction (and so no SQLite write lock) is held while the
broker is asked to create or change an account: a slow broker must never
make a concurrent login wait on the database. A claim therefore runs in
three steps, each its own short transaction:

1. :func:`begin_claim` checks the code, scope and endpoints and moves the
   node ``placeholder -> claiming`` with a compare-and-set (so two
   technicians with the same code cannot both win); nothing else changes.
2. The caller installs the credentials in the broker (outside any transaction,
   with a timeout).
3. :func:`finish_claim` records the location, the credentials and the audit
   entry (``claiming -> claimed``); if the broker step failed,
   :func:`abort_claim` puts the node back to ``placeholder`` and the code
   stays valid (the compensating step).

A hub that dies between 1 and 3 leaves the node ``claiming``; after
``STALE_CLAIM_MS`` the code claims it again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import selectinload

from citysense.nodekinds import NodeKind
from hub.errors import NotFound, RegistryError
from hub.registry import secrets
from hub.registry.access import Principal, audit, now_ms
from hub.registry.accounts import NodeCredential
from hub.registry.models import Node, Region
from hub.registry.names import check_node_id
from hub.registry.service import Registry

STALE_CLAIM_MS = 120_000


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


@dataclass(frozen=True, slots=True)
class PendingClaim:
    """A claim between :func:`begin_claim` and :func:`finish_claim` (or :func:`abort_claim`)."""

    node_id: str
    started_ms: int
    credentials: NodeCredentials
    changes: dict[str, Any] = field(default_factory=dict)
    before: dict[str, Any] = field(default_factory=dict)  # the node as the audit entry records it


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


def next_credentials(s: Any, node_id: str) -> NodeCredentials:
    """A fresh password and the generation it will have once recorded (nothing is written)."""
    row = s.get(NodeCredential, node_id)
    return NodeCredentials(node_id, secrets.new_password(), (row.generation if row else 0) + 1)


def record_credentials(s: Any, node_id: str, creds: NodeCredentials) -> None:
    """Store the hash and generation of credentials the broker has taken."""
    row = s.get(NodeCredential, node_id)
    if row is None:
        row = NodeCredential(node_id=node_id, username=creds.username, generation=0, created_ms=now_ms())
        s.add(row)
    row.generation = creds.generation
    row.password_hash = secrets.sha256(creds.password)
    row.revoked_ms = None


def _find(registry: Registry, code: str) -> Node | None:
    norm = secrets.normalise_claim_code(code)
    tag = secrets.claim_code_tag(norm)
    with registry.session() as s:
        q = select(Node).options(selectinload(Node.devices))
        q = q.where(or_(Node.claim_code_hash == secrets.sha256(norm), Node.claim_code_hash.like(f"{tag}$%")))
        return next((n for n in s.scalars(q) if secrets.verify_claim_code(norm, n.claim_code_hash or "")), None)


def begin_claim(
    registry: Registry,
    kinds: dict[str, NodeKind],
    who: Principal,
    code: str,
    *,
    latitude: float,
    longitude: float,
    site: str,
    region: str | None = None,
    endpoints: dict[str, dict[str, Any]] | None = None,
) -> PendingClaim:
    """Check the claim and reserve the node (``claiming``); raise if it cannot be claimed."""
    node = _find(registry, code)
    started = now_ms()
    stale = node is not None and node.status == "claiming" and (node.claimed_ms or 0) < started - STALE_CLAIM_MS
    if node is None or not (node.status == "placeholder" or stale):
        raise ClaimError("unknown or already used claim code")
    check_node_id(node.id, registry.reserved_names)  # placeholders made before names were reserved
    target_region = region or node.region_code
    with registry.session() as s:
        if s.get(Region, target_region) is None:
            raise NotFound(f"no region '{target_region}'")
        creds = next_credentials(s, node.id)
    if not (who.sees(node.region_code, node.department_id) and who.sees(target_region, node.department_id)):
        raise ClaimError(f"node {node.id} is outside your scope")
    merged = {**json.loads(node.endpoints_json or "{}"), **(endpoints or {})}
    kind = kinds.get(node.kind)
    missing = [c.id for c in (kind.connections if kind else []) if c.id not in merged]
    if missing:
        raise IncompleteClaim(f"node {node.id}: give the site address of connection(s) {', '.join(missing)}")
    with registry.session() as s, s.begin():
        taken = s.execute(
            update(Node)
            .where(Node.id == node.id, Node.claim_code_hash == node.claim_code_hash, Node.status == node.status)
            .where(Node.claimed_ms.is_(None) if node.claimed_ms is None else Node.claimed_ms == node.claimed_ms)
            .values(status="claiming", claimed_ms=started, claimed_by=who.user_id)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            raise ClaimError("unknown or already used claim code")
    changes = {
        "latitude": latitude,
        "longitude": longitude,
        "site": site,
        "region_code": target_region,
        "endpoints_json": json.dumps(merged),
    }
    return PendingClaim(node.id, started, creds, changes, node_dict(node))


def _ours(s: Any, pending: PendingClaim) -> Node | None:
    node = s.get(Node, pending.node_id)
    if node is None or node.status != "claiming" or node.claimed_ms != pending.started_ms:
        return None
    return node  # type: ignore[no-any-return]


def finish_claim(registry: Registry, who: Principal, pending: PendingClaim) -> Node:
    """Record a claim whose credentials the broker has taken: ``claiming -> claimed``."""
    with registry.session() as s, s.begin():
        node = _ours(s, pending)
        if node is None:
            raise ClaimError(f"node {pending.node_id}: the claim was abandoned (took longer than the broker allows)")
        for key, value in pending.changes.items():
            setattr(node, key, value)
        node.status, node.claim_code_hash = "claimed", None
        node.claimed_by, node.claimed_ms = who.user_id, now_ms()
        record_credentials(s, node.id, pending.credentials)
        audit(s, who.user_id, "node.claim", "node", node.id, pending.before, node_dict(node))
    return registry.get_node(pending.node_id)


def abort_claim(registry: Registry, pending: PendingClaim) -> None:
    """Compensating step: give the node back to its code (``claiming -> placeholder``)."""
    with registry.session() as s, s.begin():
        node = _ours(s, pending)
        if node is not None:
            node.status, node.claimed_by, node.claimed_ms = "placeholder", None, None


def record_rotation(registry: Registry, actor: str, node_id: str, creds: NodeCredentials) -> None:
    """Record new credentials the broker has taken, with the audit entry."""
    with registry.session() as s, s.begin():
        if s.get(Node, node_id) is None:
            raise NotFound(f"no node '{node_id}'")
        record_credentials(s, node_id, creds)
        audit(s, actor, "credentials.rotate", "node", node_id, None, {"generation": creds.generation})


def plan_rotation(registry: Registry, node_id: str) -> NodeCredentials:
    """New credentials for a node (recorded only once the broker has them: :func:`record_rotation`)."""
    with registry.session() as s:
        if s.get(Node, node_id) is None:
            raise NotFound(f"no node '{node_id}'")
        return next_credentials(s, node_id)
