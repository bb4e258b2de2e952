"""The fleet file: regions, departments and nodes to register at start.

A node's devices come from its kind (``firmware_configs/``); ``endpoints``
give the site's addresses for each of the kind's connections, from which the
hub renders the node's agent configuration.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from citysense.contract import ID_PATTERN
from citysense.profiles.model import Strict

Id = Annotated[str, Field(pattern=ID_PATTERN)]


class RegionSpec(Strict):
    """A region of the administrative tree."""

    code: Annotated[str, Field(pattern=r"^[0-9]{6,15}$")]
    name: str
    level: Literal["city", "town", "village"]
    parent: str | None = None


class DepartmentSpec(Strict):
    """A department."""

    id: Id
    name: str


class Endpoint(Strict):
    """Where a connection of the node's kind is reached on this site; for a DL/T 645 meter, its nameplate address."""

    host: str | None = None
    port: Annotated[int | None, Field(ge=1, le=65535)] = None
    serial_port: str | None = None
    address: Annotated[str | None, Field(pattern=r"^(?:[0-9]{1,12}|[Aa]{12})$")] = None


class NodeSpec(Strict):
    """A node to register."""

    id: Id
    kind: Id
    name: str = ""
    region: str
    department: Id | None = None
    latitude: Annotated[float | None, Field(ge=-90, le=90)] = None
    longitude: Annotated[float | None, Field(ge=-180, le=180)] = None
    site: str = ""
    endpoints: dict[str, Endpoint] = Field(default_factory=dict)


class Fleet(Strict):
    """Contents of a fleet file."""

    regions: list[RegionSpec] = Field(default_factory=list)
    departments: list[DepartmentSpec] = Field(default_factory=list)
    nodes: list[NodeSpec] = Field(default_factory=list)
