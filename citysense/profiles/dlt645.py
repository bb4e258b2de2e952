"""Pydantic model of a DL/T 645 meter profile: the data identifiers (DI) a meter model answers.

A profile file says ``protocol: dlt645`` and lists one DI per point::

    id: chint_ddsu666_dlt645
    protocol: dlt645
    edition: "2007"               # or "1997" (2-byte DIs)
    model: DDSU666 single-phase energy meter
    manufacturer: CHINT
    source: "CHINT DDSU666 manual, DL/T 645-2007 data identifiers"
    category: energy
    points:
      - {metric: voltage, di: "02010100", format: "XXX.X", unit: V, range: [0, 300]}
      - {metric: current, di: "02020100", format: "XXX.XXX", signed: true, unit: A}

``di`` is written as the standard prints it (DI3 DI2 DI1 DI0 for 2007, DI1 DI0
for 1997). ``format`` is the standard's data format: one ``X`` per BCD digit,
a dot for the decimal point (``XXXXXX.XX`` = 4 bytes, 2 decimals). ``signed``
marks quantities whose top bit is the sign (current, power, power factor).
``scale`` converts units (kW -> W: 1000). Every key is in docs/device-profiles.md.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from citysense.codec import DataType
from citysense.contract import ID_PATTERN
from citysense.dlt645 import Edition
from citysense.profiles.alertrules import AlertRule
from citysense.profiles.model import MetricName, Profile, ReportSpec, Strict
from citysense.profiles.registerless import Metric, registerless_profile
from citysense.yamlconf import keyed

_FORMAT = re.compile(r"^(X+)(?:\.(X+))?$")


class MeterPoint(Strict):
    """One quantity of the meter, read by its data identifier."""

    metric: MetricName
    name: str = ""
    di: Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{4}(?:[0-9A-Fa-f]{4})?$", description="Data identifier, as printed")]
    format: Annotated[str, Field(max_length=33, description="BCD digits: XXX.X")]
    offset_bytes: Annotated[int, Field(ge=0, le=190, description="Where the value starts in a data block")] = 0
    signed: bool = False
    scale: float = 1.0
    unit: str = ""
    range: tuple[float, float] | None = None
    report: ReportSpec = ReportSpec()
    description: str = ""

    # What the hub and the dashboards ask every point (as of a Modbus point).
    type: Literal[DataType.FLOAT64] = DataType.FLOAT64
    enum: None = None
    writable: Literal[False] = False

    @property
    def size(self) -> int:
        """Bytes of the value (the 1997 edition writes 2 bytes as XXX: the top nibble is 0)."""
        return (self.digits + 1) // 2

    @property
    def digits(self) -> int:
        """BCD digits of the value."""
        return len(self.format.replace(".", ""))

    @property
    def decimals(self) -> int:
        """Digits after the decimal point."""
        found = _FORMAT.match(self.format)
        return len(found.group(2) or "") if found else 0

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not _FORMAT.match(self.format):
            raise ValueError(f"format '{self.format}' is not BCD digits such as XXXXXX.XX")
        if self.digits > 32:
            raise ValueError(f"format '{self.format}' has more than 32 digits")
        if self.scale == 0:
            raise ValueError("'scale' must not be 0")
        if self.range is not None and self.range[0] > self.range[1]:
            raise ValueError(f"'range' minimum {self.range[0]} exceeds maximum {self.range[1]}")
        return self


class MeterProfile(Strict):
    """The data identifiers and metadata of one meter model."""

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    protocol: Literal["dlt645"]
    edition: Edition = Edition.V2007
    model: str
    manufacturer: str
    source: str = Field(min_length=1, description="Where the DI table comes from")
    category: str
    description: str = ""
    expected_interval_s: Annotated[float, Field(gt=0, le=86400)] = 60.0
    points: list[MeterPoint] = Field(min_length=1, max_length=200)
    alerts: list[AlertRule] = Field(default_factory=list, description="Default alert rules, docs/alerts.md")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        want = 8 if self.edition is Edition.V2007 else 4
        metrics: set[str] = set()
        for i, p in enumerate(self.points):
            if len(p.di) != want:
                raise keyed(f"points.{i}.di", f"a DL/T 645-{self.edition.value} DI has {want} hex digits: '{p.di}'")
            if p.metric in metrics:
                raise keyed(f"points.{i}.metric", f"metric '{p.metric}' is defined twice")
            metrics.add(p.metric)
        for r in self.alerts:
            if r.metric is not None and r.metric not in metrics:
                raise ValueError(f"alert rule '{r.id}': profile has no metric '{r.metric}'")
        return self

    def point(self, metric: str) -> MeterPoint:
        """Return the point named ``metric``; raises ``KeyError``."""
        for p in self.points:
            if p.metric == metric:
                return p
        raise KeyError(metric)

    def reads(self) -> dict[str, list[MeterPoint]]:
        """Points by DI: one request per DI, however many points a block carries."""
        out: dict[str, list[MeterPoint]] = {}
        for p in self.points:
            out.setdefault(p.di.upper(), []).append(p)
        return out


def as_device_profile(mp: MeterProfile) -> Profile:
    """The device profile the hub sees for a meter: one float point per metric (read by DI, not by register)."""
    metrics = [
        Metric(p.metric, p.name, p.unit, p.range, p.description or f"DL/T 645 DI {p.di.upper()}") for p in mp.points
    ]
    description = mp.description or f"A DL/T 645-{mp.edition.value} meter (read by data identifier)."
    return registerless_profile(mp, metrics, value_type=DataType.FLOAT64, description=description)
