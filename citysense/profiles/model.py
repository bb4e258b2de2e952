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
16-bit register; points of one table may not overlap; enum maps only on integer
types; a scale of zero is refused.
"""

from __future__ import annotations

import enum
import itertools
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from citysense.codec import ByteOrder, DataType, WordOrder, register_count
from citysense.contract import ID_PATTERN
from citysense.profiles.alertrules import AlertRule
from citysense.yamlconf import keyed

MetricName = Annotated[str, Field(pattern=r"^[a-z](?:_?[a-z0-9])*$", max_length=64)]


class Table(enum.StrEnum):
    """Modbus data table; the read function code follows from it."""

    COIL = "coil"  # FC 1 read, FC 5/15 write
    DISCRETE_INPUT = "discrete_input"  # FC 2
    INPUT = "input"  # FC 4
    HOLDING = "holding"  # FC 3 read, FC 6/16 write

    @property
    def is_bit_table(self) -> bool:
        """True for tables addressed in bits rather than 16-bit registers."""
        return self in (Table.COIL, Table.DISCRETE_INPUT)

    @property
    def read_function_code(self) -> int:
        """The Modbus function code that reads this table."""
        return {Table.COIL: 1, Table.DISCRETE_INPUT: 2, Table.HOLDING: 3, Table.INPUT: 4}[self]


class Strict(BaseModel):
    """Base for declarative files: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class WireDefaults(Strict):
    """Per-profile defaults for how values sit in registers."""

    byte_order: ByteOrder = ByteOrder.BIG
    word_order: WordOrder = WordOrder.BIG
    address_base: Annotated[int, Field(ge=0, le=1)] = 0
    max_registers_per_request: Annotated[int, Field(ge=1, le=125)] = 100
    max_gap_registers: Annotated[int, Field(ge=0, le=100)] = 10


class ReportMode(enum.StrEnum):
    """When the agent forwards a point's readings (docs/edge-agent.md, "Report strategies")."""

    EVERY_POLL = "every_poll"  # every reading
    ON_CHANGE = "on_change"  # when the value moves more than ``deadband`` (or the quality changes)
    CHANGE_OR_HEARTBEAT = "change_or_heartbeat"  # on change, and at least every ``heartbeat_s``
    AGGREGATE = "aggregate"  # one reading per ``interval_s``: min, max, mean, sum or count of the good values


class Aggregate(enum.StrEnum):
    """Aggregation of the good values of one report interval."""

    MIN = "min"
    MAX = "max"
    MEAN = "mean"
    SUM = "sum"
    COUNT = "count"


class ReportSpec(Strict):
    """A point's report strategy; readings of bad quality are always forwarded when the quality changes."""

    mode: ReportMode = ReportMode.EVERY_POLL
    deadband: Annotated[float, Field(ge=0)] = 0.0
    heartbeat_s: Annotated[float | None, Field(gt=0, le=86400)] = None
    interval_s: Annotated[float | None, Field(gt=0, le=86400)] = None
    aggregate: Aggregate | None = None

    @model_validator(mode="after")
    def _needs(self) -> Self:
        if self.mode is ReportMode.CHANGE_OR_HEARTBEAT and self.heartbeat_s is None:
            raise ValueError("mode 'change_or_heartbeat' needs 'heartbeat_s'")
        if self.mode is ReportMode.AGGREGATE and (self.interval_s is None or self.aggregate is None):
            raise ValueError("mode 'aggregate' needs 'interval_s' and 'aggregate' (min, max, mean, sum or count)")
        if self.mode is not ReportMode.AGGREGATE and self.aggregate is not None:
            raise ValueError("'aggregate' applies only to mode 'aggregate'")
        return self


class Point(Strict):
    """One measured or settable quantity of the device."""

    metric: MetricName
    name: str = ""
    table: Table
    address: Annotated[int, Field(ge=0, le=65536, description="As printed in the manual; see address_base")]
    type: DataType
    length: Annotated[int | None, Field(ge=1, le=64, description="Registers of a string")] = None
    byte_order: ByteOrder | None = None
    word_order: WordOrder | None = None
    bit: Annotated[int | None, Field(ge=0, le=15, description="Bit of a 16-bit register, 0 = LSB")] = None
    mask: Annotated[int | None, Field(ge=1, le=0xFFFFFFFFFFFFFFFF)] = None
    shift: Annotated[int, Field(ge=0, le=63)] = 0
    scale: float = 1.0
    offset: float = 0.0
    unit: str = ""
    range: tuple[float, float] | None = None
    sentinels: list[int] = Field(default_factory=list, description="Raw values meaning 'no value'")
    enum: dict[int, str] | None = None
    writable: bool = False
    report: ReportSpec = ReportSpec()
    description: str = ""

    @property
    def register_count(self) -> int:
        """How many registers (or bits, for coil tables) this point occupies."""
        if self.table.is_bit_table:
            return 1
        return register_count(self.type, self.length)

    @model_validator(mode="after")
    def _cross_check(self) -> Self:
        if self.table.is_bit_table and self.type is not DataType.BOOL:
            raise ValueError(f"a {self.table.value} holds one bit: type must be 'bool', not '{self.type.value}'")
        if self.type is DataType.STRING and self.length is None:
            raise ValueError("a string point needs 'length' (registers)")
        if self.type is not DataType.STRING and self.length is not None:
            raise ValueError("'length' applies only to strings")
        one_register = (DataType.BOOL, DataType.UINT16, DataType.INT16)
        if self.bit is not None and (self.table.is_bit_table or self.type not in one_register):
            raise ValueError(
                "'bit' picks a bit of one 16-bit register: use type bool/uint16 on an input or holding register"
            )
        if self.type is DataType.BOOL and not self.table.is_bit_table and self.bit is None:
            raise ValueError("a bool in a register needs 'bit'")
        if self.scale == 0:
            raise ValueError("'scale' must not be 0")
        if self.range is not None and self.range[0] > self.range[1]:
            raise ValueError(f"'range' minimum {self.range[0]} exceeds maximum {self.range[1]}")
        if self.enum is not None and self.type in (DataType.FLOAT32, DataType.FLOAT64, DataType.STRING):
            raise ValueError("'enum' maps integer states; it cannot apply to floats or strings")
        if self.type in (DataType.STRING, DataType.BOOL) and (self.scale != 1.0 or self.offset != 0.0):
            raise ValueError(f"'scale'/'offset' do not apply to {self.type.value}")
        return self


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
        seen_metrics: set[str] = set()
        spans: dict[Table, list[tuple[int, int, int, int | None]]] = {}
        base = self.defaults.address_base
        for i, p in enumerate(self.points):
            if p.metric in seen_metrics:
                raise keyed(f"points.{i}.metric", f"metric '{p.metric}' is defined twice")
            seen_metrics.add(p.metric)
            if p.address < base:
                raise keyed(f"points.{i}.address", f"address {p.address} is below address_base {base}")
            end = p.address + p.register_count
            if end - base > 65536:
                raise keyed(f"points.{i}.address", f"{p.register_count} registers from {p.address} run past 65535")
            spans.setdefault(p.table, []).append((p.address, end, i, p.bit))
        rule_ids = [r.id for r in self.alerts]
        if len(rule_ids) != len(set(rule_ids)):
            raise ValueError("alert rule ids must be unique within a profile")
        for r in self.alerts:
            if r.metric is not None and r.metric not in seen_metrics:
                raise ValueError(f"alert rule '{r.id}': profile has no metric '{r.metric}'")
        for table, items in spans.items():
            items.sort()
            for (a0, a1, i0, b0), (c0, _c1, i1, b1) in itertools.pairwise(items):
                shares_bits = b0 is not None and b1 is not None and a0 == c0 and a1 == c0 + 1
                if c0 < a1 and not (shares_bits and b0 != b1):
                    m0, m1 = self.points[i0].metric, self.points[i1].metric
                    raise keyed(f"points.{i1}.address", f"points '{m0}' and '{m1}' overlap in the {table.value} table")
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
