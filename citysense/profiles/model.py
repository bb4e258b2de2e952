"""Pydantic model of a device profile (the register map of one sensor model).

A profile file looks like this (every key is documented in
``docs/device-profiles.md``)::

    id: sense_rs485_th          # unique, also the InfluxDB measurement
    model: "RS485 temperature and humidity transmitter"
    manufacturer: Example
    source: "Vendor manual v1.2, section 5 'register table'"
    category: environment
    expected_interval_s: 60
    defaults: {byte_order: big, word_order: big, address_base: 0}
    points:
      - metric: temperature
        table: holding
        address: 1
        type: int16
        scale: 0.1
        unit: "°C"
        range: [-40, 80]

Validation cross-checks fields: a coil holds only ``bool``; ``bit`` only on a
16-bit register; points of one table may not overlap, except bit/mask fields of
the same register(s) with disjoint bits (:mod:`citysense.profiles.overlap`);
enum maps only on integer types; a scale of zero is refused; ``scale_from`` and
``unit_from`` name another plain integer point.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from citysense.codec import INTEGERS, ByteOrder, WordOrder
from citysense.contract import ID_PATTERN
from citysense.profiles.alertrules import AlertRule
from citysense.profiles.overlap import check_overlaps
from citysense.profiles.point import (
    Address,
    Aggregate,
    MetricName,
    Point,
    ReportMode,
    ReportSpec,
    ScaleFrom,
    Strict,
    Table,
    UnitFrom,
)
from citysense.yamlconf import keyed

__all__ = ["Address", "Aggregate", "MetricName", "Point", "Profile", "ReportMode", "ReportSpec", "ScaleFrom",
           "Strict", "Table", "UnitFrom", "WireDefaults"]  # fmt: skip


class WireDefaults(Strict):
    """Per-profile defaults for how values sit in registers."""

    byte_order: ByteOrder = ByteOrder.BIG
    word_order: WordOrder = WordOrder.BIG
    address_base: Annotated[int, Field(ge=0, le=1)] = 0
    max_registers_per_request: Annotated[int, Field(ge=1, le=125)] = 100
    max_gap_registers: Annotated[int, Field(ge=0, le=100)] = 10


class Profile(Strict):
    """The register map and metadata of one sensor model."""

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    model: str
    manufacturer: str
    source: str = Field(min_length=1, description="Where the register map comes from")
    category: str
    description: str = ""
    expected_interval_s: Annotated[float, Field(gt=0, le=86400)] = 60.0
    defaults: WireDefaults = WireDefaults()
    points: list[Point] = Field(min_length=1)
    alerts: list[AlertRule] = Field(default_factory=list, description="Default alert rules, docs/alerts.md")

    @model_validator(mode="after")
    def _no_overlap(self) -> Self:
        seen_metrics: dict[str, Point] = {}
        base = self.defaults.address_base
        for i, p in enumerate(self.points):
            if p.metric in seen_metrics:
                raise keyed(f"points.{i}.metric", f"metric '{p.metric}' is defined twice")
            seen_metrics[p.metric] = p
            if min(p.manual_addresses()) < base:
                raise keyed(f"points.{i}.address", f"address {p.address} is below address_base {base}")
            if max(p.manual_addresses()) + 1 - base > 65536:
                raise keyed(f"points.{i}.address", f"{p.register_count} registers from {p.address} run past 65535")
        for i, p in enumerate(self.points):
            for key, ref in (("scale_from", p.scale_from), ("unit_from", p.unit_from)):
                if ref is not None:
                    _check_reference(i, key, p, seen_metrics.get(ref.metric))
        rule_ids = [r.id for r in self.alerts]
        if len(rule_ids) != len(set(rule_ids)):
            raise ValueError("alert rule ids must be unique within a profile")
        for r in self.alerts:
            if r.metric is not None and r.metric not in seen_metrics:
                raise ValueError(f"alert rule '{r.id}': profile has no metric '{r.metric}'")
        check_overlaps(self.points)
        return self

    def point(self, metric: str) -> Point:
        """Return the point named ``metric``; raises ``KeyError``."""
        for p in self.points:
            if p.metric == metric:
                return p
        raise KeyError(metric)

    def pdu_address(self, point: Point) -> int:
        """Return the 0-based protocol address of ``point``."""
        return point.address - self.defaults.address_base

    def byte_order(self, point: Point) -> ByteOrder:
        """Effective byte order of ``point``."""
        return point.byte_order or self.defaults.byte_order

    def word_order(self, point: Point) -> WordOrder:
        """Effective word order of ``point``."""
        return point.word_order or self.defaults.word_order


def _check_reference(i: int, key: str, point: Point, ref: Point | None) -> None:
    """``scale_from``/``unit_from`` must name a polled integer point that is not itself dynamic."""
    target = getattr(point, key).metric
    if ref is None:
        raise keyed(f"points.{i}.{key}", f"profile has no metric '{target}'")
    if ref is point or ref.write_only or ref.type not in INTEGERS:
        raise keyed(f"points.{i}.{key}", f"'{target}' must be another polled integer point (a 'decimals' register)")
    if ref.scale_from is not None or ref.scale != 1.0 or ref.offset != 0.0:
        raise keyed(f"points.{i}.{key}", f"'{target}' must be read as a plain integer (no scale, offset, scale_from)")
