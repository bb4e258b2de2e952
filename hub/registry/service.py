"""Registry operations over SQLAlchemy (synchronous; call from a worker thread)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CursorResult, create_engine, delete, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload, sessionmaker

import hub.registry.accounts  # noqa: F401  (registers the access-control tables on Base)
from citysense.nodekinds import NodeKind, kind_devices
from citysense.profiles import ProfileSet
from hub.errors import NotFound, RegistryError
from hub.registry.fleet import Fleet
from hub.registry.models import Base, DeadLetter, Department, Device, Node, Region
from hub.registry.names import check_node_id
from hub.registry.regions import ancestry
from hub.registry.snapshot import DeviceView, NodeView, RegistrySnapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NodeFilter:
    """Filters for node listings; ``region`` matches the whole subtree."""

    kind: str | None = None
    department: str | None = None
    region: str | None = None
    status: str | None = None
    profile: str | None = None  # nodes carrying at least one device of this profile
    within_regions: frozenset[str] | None = None  # the caller's scope (None: all)
    within_departments: frozenset[str] = frozenset()  # the caller's scope (empty: all)
    after: str | None = None  # cursor: the last node id of the previous page
    drift: bool = False  # only nodes whose applied config version differs from the desired one
    limit: int | None = None


# tcp_user_timeout (ms) drops a connection whose sent data goes unacknowledged (a host gone mid-query);
# keepalives one that is idle and whose host stopped answering.
PG_CONNECT_ARGS = {"connect_timeout": 5, "tcp_user_timeout": 30_000, "keepalives": 1, "keepalives_idle": 10,
                   "keepalives_interval": 5, "keepalives_count": 3}  # fmt: skip


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class Registry:
    """Regions, departments, nodes, devices and dead letters."""

    def __init__(self, url: str) -> None:
        # A PostgreSQL server that is frozen or cut off (a paused VM, a partition dropping packets) must fail a
        # query, not hold a worker thread for ever: a bounded connect, and TCP keepalives (libpq parameters,
        # PostgreSQL manual §34.1.2) on open connections; the caller then retries (hub/registry/outage.py).
        extra = {"connect_args": PG_CONNECT_ARGS} if url.startswith("postgresql") else {}
        self.engine: Engine = create_engine(url, **extra)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = threading.Lock()
        # The broker service accounts this hub uses (hub/registry/names.py): no node may be named after one.
        self.reserved_names: frozenset[str] = frozenset()

    def create_all(self) -> None:
        """Create missing tables straight from the models (tests' scratch databases; the hub migrates)."""
        Base.metadata.create_all(self.engine)

    def migrate(self) -> None:
        """Upgrade every table on the registry database (registry, alarms, outbox, ingest state) to the head."""
        from hub.registry import migrate

        migrate.upgrade(self.engine)

    def session(self) -> Session:
        """Open a session (use as a context manager)."""
        return self._session()

    # -- seeding -----------------------------------------------------------
    def apply_fleet(self, fleet: Fleet, kinds: Mapping[str, NodeKind], profiles: ProfileSet) -> None:
        """Insert or update the fleet's regions, departments, nodes and their devices (audited as ``fleet-file``)."""
        from hub.registry.access import audit
        from hub.registry.claims import node_dict

        with self._write_lock, self.session() as s, s.begin():
            for r in fleet.regions:
                s.merge(Region(code=r.code, name=r.name, level=r.level, parent_code=r.parent))
            for d in fleet.departments:
                s.merge(Department(id=d.id, name=d.name))
            s.flush()
            for n in fleet.nodes:
                check_node_id(n.id, self.reserved_names)
                kind = kinds.get(n.kind)
                if kind is None:
                    raise RegistryError(f"node {n.id}: unknown node kind '{n.kind}'")
                if s.get(Region, n.region) is None:
                    raise RegistryError(f"node {n.id}: unknown region '{n.region}'")
                existing_node = s.get(Node, n.id)
                before = node_dict(existing_node) if existing_node is not None else None
                node = existing_node or Node(id=n.id)
                node.kind, node.name, node.region_code = n.kind, n.name, n.region
                node.department_id = n.department or kind.department
                node.latitude, node.longitude, node.site = n.latitude, n.longitude, n.site
                node.endpoints_json = json.dumps({k: v.model_dump(exclude_none=True) for k, v in n.endpoints.items()})
                s.add(node)
                existing = {d.local_id: d for d in node.devices}
                for dt in kind_devices(kind):
                    if dt.profile not in profiles:
                        raise RegistryError(f"node kind {kind.kind}: unknown profile '{dt.profile}'")
                    dev = existing.get(dt.id) or Device(uid=f"{n.id}.{dt.id}", local_id=dt.id)
                    dev.profile, dev.connection, dev.unit_id = dt.profile, dt.connection, dt.unit_id
                    dev.poll_interval_s = dt.poll_interval_s
                    if dt.id not in existing:
                        node.devices.append(dev)
                s.flush()
                after = node_dict(node)
                if after != before:  # fleet-file changes are writes too: keep them traceable
                    audit(s, "fleet-file", "node.update" if before else "node.create", "node", n.id, before, after)

    # -- reads ---------------------------------------------------------------
    def _ancestors(self, s: Session) -> dict[str, list[Region]]:
        regions = {r.code: r for r in s.scalars(select(Region))}
        return {code: ancestry(code, regions) for code in regions}

    def snapshot(self) -> RegistrySnapshot:
        """Build the ingest view: every node, its devices and their store tags."""
        with self.session() as s:
            chains = self._ancestors(s)
            nodes: dict[str, NodeView] = {}
            for node in s.scalars(select(Node).options(selectinload(Node.devices))):
                tags = {"dept": node.department_id}
                for region in chains.get(node.region_code, []):
                    if region.level in ("town", "village"):
                        tags[region.level] = region.code
                devices = {d.local_id: DeviceView(d.uid, node.id, d.local_id, d.profile, tags) for d in node.devices}
                nodes[node.id] = NodeView(node.id, devices)
            return RegistrySnapshot(nodes)

    def region_subtree(self, code: str) -> set[str]:
        """Return ``code`` and every region below it."""
        with self.session() as s:
            children: dict[str | None, list[str]] = {}
            for r in s.scalars(select(Region)):
                children.setdefault(r.parent_code, []).append(r.code)
            if s.get(Region, code) is None:
                raise NotFound(f"no region '{code}'")
        out, todo = set(), [code]
        while todo:
            c = todo.pop()
            out.add(c)
            todo.extend(children.get(c, []))
        return out

    def list_nodes(self, flt: NodeFilter = NodeFilter()) -> list[Node]:
        """List nodes with their devices, by id."""
        q = select(Node).options(selectinload(Node.devices)).order_by(Node.id)
        if flt.kind:
            q = q.where(Node.kind == flt.kind)
        if flt.department:
            q = q.where(Node.department_id == flt.department)
        if flt.region:
            q = q.where(Node.region_code.in_(self.region_subtree(flt.region)))
        if flt.status:
            q = q.where(Node.status == flt.status)
        if flt.profile:
            q = q.where(Node.id.in_(select(Device.node_id).where(Device.profile == flt.profile)))
        if flt.within_regions is not None:
            q = q.where(Node.region_code.in_(flt.within_regions))
        if flt.within_departments:
            q = q.where(Node.department_id.in_(flt.within_departments))
        if flt.after:
            q = q.where(Node.id > flt.after)
        if flt.drift:
            q = q.where(Node.config_version != Node.desired_config_version)
        if flt.limit:
            q = q.limit(flt.limit)
        with self.session() as s:
            return list(s.scalars(q))

    def get_node(self, node_id: str) -> Node:
        """Return one node with its devices."""
        with self.session() as s:
            node = s.scalar(select(Node).options(selectinload(Node.devices)).where(Node.id == node_id))
            if node is None:
                raise NotFound(f"no node '{node_id}'")
            return node

    def list_devices(self, node: str | None = None, profile: str | None = None) -> list[Device]:
        """List devices, optionally of one node or one profile."""
        q = select(Device).order_by(Device.uid)
        if node:
            q = q.where(Device.node_id == node)
        if profile:
            q = q.where(Device.profile == profile)
        with self.session() as s:
            return list(s.scalars(q))

    def get_device(self, uid: str) -> Device:
        """Return one device."""
        with self.session() as s:
            dev = s.get(Device, uid)
            if dev is None:
                raise NotFound(f"no device '{uid}'")
            return dev

    # -- runtime state -------------------------------------------------------
    def set_node_status(
        self,
        node_id: str,
        online: bool,
        seen_ms: int,
        agent_version: str | None = None,
        config_version: int | None = None,
    ) -> None:
        """Record a node's liveness from its birth/death or its traffic."""
        with self._write_lock, self.session() as s, s.begin():
            node = s.get(Node, node_id)
            if node is not None:
                _seen(node, online, seen_ms, agent_version, config_version)

    def set_nodes_seen(self, node_ids: Sequence[str], seen_ms: int) -> None:
        """Record traffic from these nodes as liveness, as :meth:`set_node_status` does, in one transaction."""
        with self._write_lock, self.session() as s, s.begin():
            for i in range(0, len(node_ids), 500):
                for node in s.scalars(select(Node).where(Node.id.in_(node_ids[i : i + 500]))):
                    _seen(node, True, seen_ms)

    def set_node_epochs(self, epochs: Mapping[str, str]) -> dict[str, tuple[str | None, str]]:
        """Record the epoch each node's batches now carry (one transaction); return ``node -> (old, new)`` changed."""
        changed: dict[str, tuple[str | None, str]] = {}
        ids = list(epochs)
        with self._write_lock, self.session() as s, s.begin():
            for i in range(0, len(ids), 400):  # under SQLite's bound-parameter limit
                for node in s.scalars(select(Node).where(Node.id.in_(ids[i : i + 400]))):
                    if node.epoch != epochs[node.id]:
                        changed[node.id] = (node.epoch, epochs[node.id])
                        node.epoch = epochs[node.id]
        return changed

    def add_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        """Keep rejected messages/readings with their reasons."""
        with self._write_lock, self.session() as s, s.begin():
            s.add_all(letters)

    def prune_dead_letters(self, older_than_ms: int, max_rows: int) -> int:
        """Delete dead letters from before ``older_than_ms`` and all but the newest ``max_rows``; return the count."""
        with self._write_lock, self.session() as s, s.begin():
            old: CursorResult[Any] = s.execute(delete(DeadLetter).where(DeadLetter.received_ms < older_than_ms))  # type: ignore[assignment]
            removed = old.rowcount
            floor = s.scalar(select(DeadLetter.id).order_by(DeadLetter.id.desc()).offset(max_rows).limit(1))
            if floor is not None:
                extra: CursorResult[Any] = s.execute(delete(DeadLetter).where(DeadLetter.id <= floor))  # type: ignore[assignment]
                removed += extra.rowcount
            return removed

    def list_dead_letters(self, reason: str | None = None, after_id: int = 0, limit: int = 100) -> list[DeadLetter]:
        """Dead letters in arrival order, from ``after_id`` (cursor)."""
        q = select(DeadLetter).where(DeadLetter.id > after_id).order_by(DeadLetter.id).limit(limit)
        if reason:
            q = q.where(DeadLetter.reason == reason)
        with self.session() as s:
            return list(s.scalars(q))


def _seen(node: Node, online: bool, seen_ms: int, agent_version: str | None = None, config_version: int | None = None
          ) -> None:  # fmt: skip
    """Apply one sighting of ``node`` (its birth, death or traffic)."""
    node.online = online
    node.last_seen_ms = max(node.last_seen_ms or 0, seen_ms)
    if agent_version is not None:
        node.agent_version = agent_version
    if config_version is not None:
        node.config_version = config_version
    if online and node.status == "claimed":
        # The first connection with the handed-out credentials confirms the claim.
        node.status = "commissioned"
        log.info("%s: commissioned", node.id)
