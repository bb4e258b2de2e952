"""Node-kind templates (``firmware_configs/*.yaml``).

A node kind says which devices a smart pole, water gauge, weather station or
signal cabinet usually carries, on which bus and unit id, with which profile.
The hub renders a node's full agent configuration from its kind at
provisioning, filling in the site-specific endpoints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, model_validator

from citysense.agentconfig import ConnectionType
from citysense.contract import ID_PATTERN
from citysense.errors import ConfigError
from citysense.profiles.model import Strict
from citysense.yamlconf import keyed, load_model

Id = Annotated[str, Field(pattern=ID_PATTERN)]


class ConnectionTemplate(Strict):
    """A bus or endpoint of the node; the site's address is filled in later."""

    id: Id
    type: ConnectionType
    description: str = ""


class DeviceTemplate(Strict):
    """A device the node kind carries."""

    id: Id
    profile: Id
    connection: Id
    unit_id: Annotated[int, Field(ge=0, le=247)]
    poll_interval_s: Annotated[float, Field(gt=0, le=86400)] = 10.0
    description: str = ""


class MeterTemplate(Strict):
    """A DL/T 645 energy meter the node kind carries, on one of its ``dlt645_*`` connections.

    ``address`` is the meter's nameplate address; the default, the wildcard ``AAAAAAAAAAAA``
    (DL/T 645-2007 §5.2.2), reaches the one meter on a line whatever its number. A site's own
    address is given at provisioning as the endpoint named after the meter (``{"address": ...}``).
    """

    id: Id
    profile: Id
    connection: Id
    address: Annotated[str, Field(pattern=r"^(?:[0-9]{1,12}|[Aa]{12})$")] = "AAAAAAAAAAAA"
    poll_interval_s: Annotated[float, Field(gt=0, le=86400)] = 60.0
    description: str = ""


class NodeKind(Strict):
    """Template of one kind of site."""

    kind: Id
    name: str
    department: Id
    description: str = ""
    connections: list[ConnectionTemplate] = Field(min_length=1)
    devices: list[DeviceTemplate] = Field(default_factory=list)
    meters: list[MeterTemplate] = Field(default_factory=list)

    @model_validator(mode="after")
    def _refs(self) -> Self:
        conns = {c.id: c.type.is_dlt645 for c in self.connections}
        if len(conns) != len(self.connections):
            raise ValueError("connection ids must be unique")
        if not self.devices and not self.meters:
            raise ValueError("a node kind needs at least one Modbus device or DL/T 645 meter")
        ids = [d.id for d in self.devices] + [m.id for m in self.meters]
        if len(set(ids)) != len(ids):
            raise ValueError("device and meter ids must be unique")
        if set(ids) & set(conns):
            raise ValueError("device and meter ids must differ from connection ids (endpoints are named by both)")
        for i, d in enumerate(self.devices):
            if d.connection not in conns:
                raise keyed(f"devices.{i}.connection", f"device '{d.id}' names unknown connection '{d.connection}'")
            if conns[d.connection]:
                raise keyed(f"devices.{i}.connection", f"'{d.connection}' is a DL/T 645 line: list the meter in meters")
        for i, m in enumerate(self.meters):
            if not conns.get(m.connection, False):
                raise keyed(f"meters.{i}.connection", f"meter '{m.id}' needs a dlt645_serial or dlt645_tcp connection")
        seen: set[tuple[str, int]] = set()
        for i, d in enumerate(self.devices):
            if (d.connection, d.unit_id) in seen:
                raise keyed(f"devices.{i}.unit_id", f"unit id {d.unit_id} is used twice on '{d.connection}'")
            seen.add((d.connection, d.unit_id))
        return self


def kind_devices(kind: NodeKind) -> list[DeviceTemplate]:
    """Every device the hub registers for a node of ``kind``: its Modbus devices, then its meters (unit id 0)."""
    meters = [
        DeviceTemplate(
            id=m.id, profile=m.profile, connection=m.connection, unit_id=0, poll_interval_s=m.poll_interval_s
        )
        for m in kind.meters
    ]
    return [*kind.devices, *meters]


def load_node_kinds(directory: Path, profiles: set[str] | None = None) -> dict[str, NodeKind]:
    """Load every ``*.yaml`` under ``directory``; check profile references when given."""
    kinds: dict[str, NodeKind] = {}
    problems: list[tuple[str, str]] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            kind = load_model(NodeKind, path)
        except ConfigError as exc:
            problems.extend((f"{path.name}: {k}", m) for k, m in exc.problems)
            continue
        if kind.kind != path.stem:
            problems.append((f"{path.name}: kind", f"'{kind.kind}' must equal the file name '{path.stem}'"))
        named = [("devices", i, d.profile) for i, d in enumerate(kind.devices)]
        named += [("meters", i, m.profile) for i, m in enumerate(kind.meters)]
        for field, i, profile in named:
            if profiles is not None and profile not in profiles:
                problems.append((f"{path.name}: {field}.{i}.profile", f"no profile '{profile}' in device_profiles/"))
        kinds[kind.kind] = kind
    if problems:
        raise ConfigError(directory, problems)
    return kinds


def default_node_kind_dir() -> Path:
    """The ``firmware_configs/`` directory shipped with the project (inside the package when installed from a wheel)."""
    packaged = Path(__file__).resolve().parent / "firmware_configs"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[1] / "firmware_configs"
