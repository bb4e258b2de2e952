"""Stations in the registry: create, list, look up by protocol identity (synchronous; call from a thread).

A station is a node (``kind`` ``<protocol>_station``) with a :class:`Station`
row naming its protocol, identity and password, and devices like any node's:
an HJ 212 monitor or SL 651 RTU is one device whose profile is a station
profile; a DTU site has one device per Modbus unit behind the DTU, each with
its device profile, unit id and poll interval.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field, SecretStr
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from citysense.contract import ID_PATTERN
from citysense.profiles import ProfileSet
from citysense.profiles.model import Strict
from hub.errors import NotFound, RegistryError
from hub.registry.access import audit
from hub.registry.models import Department, Device, Node, Region
from hub.registry.service import Registry
from hub.stations.models import Station

Id = Annotated[str, Field(pattern=ID_PATTERN)]


class StationDevice(Strict):
    """A device of the station: the monitor itself, or a Modbus unit behind a DTU."""

    id: Id
    profile: Id
    unit_id: Annotated[int, Field(ge=0, le=247)] = 0
    poll_interval_s: Annotated[float, Field(gt=0, le=86400)] = 60.0


class StationSpec(Strict):
    """What registering a station takes (the API body, the demo's stations)."""

    id: Id
    name: Annotated[str, Field(max_length=128)] = ""
    protocol: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,16}$")]
    address: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")]
    password: SecretStr = SecretStr("")
    region: str
    department: Id
    latitude: Annotated[float | None, Field(ge=-90, le=90)] = None
    longitude: Annotated[float | None, Field(ge=-180, le=180)] = None
    site: Annotated[str, Field(max_length=128)] = ""
    devices: list[StationDevice] = Field(min_length=1, max_length=32)


@dataclass(frozen=True, slots=True)
class StationInfo:
    """What the gateway needs of one station."""

    node: str
    protocol: str
    address: str
    secret: str
    devices: tuple[StationDevice, ...]

    def password_ok(self, sent: str | None) -> bool:
        """Compare the password sent with the registered one in constant time (no password registered: any)."""
        if not self.secret:
            return True
        return hmac.compare_digest((sent or "").encode(), self.secret.encode())


def _info(st: Station, node: Node) -> StationInfo:
    devices = tuple(
        StationDevice(id=d.local_id, profile=d.profile, unit_id=d.unit_id, poll_interval_s=d.poll_interval_s)
        for d in sorted(node.devices, key=lambda d: d.local_id)
    )
    return StationInfo(node.id, st.protocol, st.address, st.secret, devices)


def _check(spec: StationSpec, profiles: ProfileSet, protocols: set[str]) -> None:
    if spec.protocol not in protocols:
        raise RegistryError(f"unknown station protocol '{spec.protocol}' (known: {', '.join(sorted(protocols))})")
    for d in spec.devices:
        if d.profile not in profiles:
            raise RegistryError(f"device {d.id}: unknown profile '{d.profile}'")
    if len({d.id for d in spec.devices}) != len(spec.devices):
        raise RegistryError("device ids must be unique")


def _id(d: StationDevice) -> str:
    return d.id


class StationDirectory:
    """Station rows of the registry."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def create(self, actor: str, spec: StationSpec, profiles: ProfileSet, protocols: set[str]) -> StationInfo:
        """Register a station and its node; refuse unknown protocols, profiles, regions and taken identities."""
        return self.create_many(actor, [spec], profiles, protocols)[0]

    def create_many(
        self, actor: str, specs: list[StationSpec], profiles: ProfileSet, protocols: set[str]
    ) -> list[StationInfo]:
        """Register several stations in one transaction (all or none)."""
        for spec in specs:
            _check(spec, profiles, protocols)
        with self.registry._write_lock, self.registry.session() as s, s.begin():
            out = [self._add(s, actor, spec) for spec in specs]
            s.flush()
            return out

    def _add(self, s: Session, actor: str, spec: StationSpec) -> StationInfo:
        if s.get(Node, spec.id) is not None:
            raise RegistryError(f"node '{spec.id}' exists")
        if s.get(Region, spec.region) is None:
            raise RegistryError(f"unknown region '{spec.region}'")
        if s.get(Department, spec.department) is None:
            raise RegistryError(f"unknown department '{spec.department}'")
        taken = s.scalar(select(Station).where(Station.protocol == spec.protocol, Station.address == spec.address))
        if taken is not None:
            raise RegistryError(f"{spec.protocol} address '{spec.address}' is node '{taken.node_id}'s")
        node = Node(
            id=spec.id,
            kind=f"{spec.protocol}_station",
            name=spec.name,
            region_code=spec.region,
            department_id=spec.department,
            latitude=spec.latitude,
            longitude=spec.longitude,
            site=spec.site,
            status="commissioned",
        )
        for d in spec.devices:
            node.devices.append(
                Device(
                    uid=f"{spec.id}.{d.id}",
                    local_id=d.id,
                    profile=d.profile,
                    connection=spec.protocol,
                    unit_id=d.unit_id,
                    poll_interval_s=d.poll_interval_s,
                )
            )
        st = Station(
            node_id=spec.id,
            protocol=spec.protocol,
            address=spec.address,
            secret=spec.password.get_secret_value(),
            created_ms=time.time_ns() // 1_000_000,
        )
        s.add_all([node, st])
        after = {"protocol": spec.protocol, "address": spec.address, "devices": [d.id for d in spec.devices]}
        audit(s, actor, "station.create", "node", spec.id, None, after)
        s.flush()
        return _info(st, node)

    def all(self) -> list[tuple[StationInfo, Node]]:
        """Every station with its node, by node id."""
        with self.registry.session() as s:
            q = select(Station, Node).join(Node, Node.id == Station.node_id).options(selectinload(Node.devices))
            return [(_info(st, node), node) for st, node in s.execute(q.order_by(Station.node_id))]

    def infos(self, protocol: str | None = None) -> dict[tuple[str, str], StationInfo]:
        """Every station's gateway view by ``(protocol, address)``, in two plain queries (no ORM objects)."""
        with self.registry.session() as s:
            q = select(Station.node_id, Station.protocol, Station.address, Station.secret)
            if protocol is not None:
                q = q.where(Station.protocol == protocol)
            rows = list(s.execute(q))
            dq = select(Device.node_id, Device.local_id, Device.profile, Device.unit_id, Device.poll_interval_s)
            devices: dict[str, list[StationDevice]] = {}
            for node, local, profile, unit, interval in s.execute(dq.join(Station, Station.node_id == Device.node_id)):
                dev = StationDevice(id=local, profile=profile, unit_id=unit, poll_interval_s=interval)
                devices.setdefault(node, []).append(dev)
        return {
            (proto, address): StationInfo(node, proto, address, secret, tuple(sorted(devices.get(node, []), key=_id)))
            for node, proto, address, secret in rows
        }

    def get(self, node_id: str) -> tuple[StationInfo, Node]:
        """One station with its node."""
        with self.registry.session() as s:
            st = s.get(Station, node_id)
            node = s.scalar(select(Node).options(selectinload(Node.devices)).where(Node.id == node_id))
            if st is None or node is None:
                raise NotFound(f"no station '{node_id}'")
            return _info(st, node), node

    def mark_online(self, nodes: list[str], seen_ms: int) -> None:
        """Record traffic from these stations' nodes as liveness, in one transaction."""
        with self.registry._write_lock, self.registry.session() as s, s.begin():
            bind = s.get_bind()
            larger = func.max if bind.dialect.name == "sqlite" else func.greatest  # SQLite's two-argument max
            for i in range(0, len(nodes), 500):
                chunk = nodes[i : i + 500]
                s.execute(
                    update(Node)
                    .where(Node.id.in_(chunk))
                    .values(online=True, last_seen_ms=larger(func.coalesce(Node.last_seen_ms, 0), seen_ms))
                    .execution_options(synchronize_session=False)
                )

    def lookup(self, protocol: str, address: str) -> StationInfo | None:
        """The station that claims ``address`` in ``protocol``, or ``None``."""
        with self.registry.session() as s:
            st = s.scalar(select(Station).where(Station.protocol == protocol, Station.address == address))
            if st is None:
                return None
            node = s.scalar(select(Node).options(selectinload(Node.devices)).where(Node.id == st.node_id))
            return None if node is None else _info(st, node)
