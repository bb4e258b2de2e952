"""Device profiles for devices read by identifier, not by register (DL/T 645 meters, SL 651 / HJ 212 stations).

The hub validates readings, draws charts and binds alert rules by device
profile. A meter or station profile has no registers behind its points, so
each point gets a placeholder input-register address of its own (one value
wide) and the profile carries the source profile's header unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from citysense.codec import DataType, register_count
from citysense.profiles.alertrules import AlertRule
from citysense.profiles.model import Point, Profile, Table


class Header(Protocol):
    """What a meter or station profile shares with a device profile."""

    @property
    def id(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def manufacturer(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def expected_interval_s(self) -> float: ...
    @property
    def alerts(self) -> list[AlertRule]: ...


@dataclass(frozen=True, slots=True)
class Metric:
    """One value of a register-less device."""

    metric: str
    name: str
    unit: str
    range: tuple[float, float] | None
    description: str


def registerless_profile(
    header: Header, metrics: Sequence[Metric], *, value_type: DataType, description: str
) -> Profile:
    """The device profile of ``header``: one ``value_type`` point per metric at consecutive placeholder addresses."""
    width = register_count(value_type)
    points = [
        Point(
            metric=m.metric,
            name=m.name,
            table=Table.INPUT,
            address=i * width,
            type=value_type,
            unit=m.unit,
            range=m.range,
            description=m.description,
        )
        for i, m in enumerate(metrics)
    ]
    return Profile(
        id=header.id,
        model=header.model,
        manufacturer=header.manufacturer,
        source=header.source,
        category=header.category,
        description=description,
        expected_interval_s=header.expected_interval_s,
        points=points,
        alerts=header.alerts,
    )
