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


class NodeKind(Strict):
    """Template of one kind of site."""

    kind: Id
    name: str
    department: Id
    description: str = ""
    connections: list[ConnectionTemplate] = Field(min_length=1)
    devices: list[DeviceTemplate] = Field(min_length=1)

    @model_validator(mode="after")
    def _refs(self) -> Self:
        conns = {c.id for c in self.connections}
        if len(conns) != len(self.connections):
            raise ValueError("connection ids must be unique")
        ids = [d.id for d in self.devices]
        if len(set(ids)) != len(ids):
            raise ValueError("device ids must be unique")
        for i, d in enumerate(self.devices):
            if d.connection not in conns:
                raise keyed(f"devices.{i}.connection", f"device '{d.id}' names unknown connection '{d.connection}'")
        seen: set[tuple[str, int]] = set()
        for i, d in enumerate(self.devices):
            if (d.connection, d.unit_id) in seen:
                raise keyed(f"devices.{i}.unit_id", f"unit id {d.unit_id} is used twice on '{d.connection}'")
            seen.add((d.connection, d.unit_id))
        return self


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
        for i, dev in enumerate(kind.devices):
            if profiles is not None and dev.profile not in profiles:
                problems.append(
                    (f"{path.name}: devices.{i}.profile", f"no profile '{dev.profile}' in device_profiles/")
                )
        kinds[kind.kind] = kind
    if problems:
        raise ConfigError(directory, problems)
    return kinds


def default_node_kind_dir() -> Path:
    """The ``firmware_configs/`` directory shipped with the project (inside the package when installed from a wheel)."""
    packaged = Path(__file__).resolve().parent / "firmware_configs"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[1] / "firmware_configs"
