"""One point of a device profile: where a value sits in the registers and how it becomes a reading.

Split from :mod:`citysense.profiles.model` (which re-exports every name) so
each module stays small; ``docs/device-profiles.md`` documents every key.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from citysense.codec import INTEGERS, PACKED, ByteOrder, DataType, WordOrder, register_count

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


Address = Annotated[int, Field(ge=0, le=65536, description="As printed in the manual; see address_base")]


class ScaleFrom(Strict):
    """The scale comes from another point: a "decimal places" register (value ``n`` -> scale 10^-n) or a map."""

    metric: MetricName
    map: dict[int, Annotated[float, Field(gt=0)]] | None = Field(default=None, description="value -> scale")


class UnitFrom(Strict):
    """The unit comes from another point's value (a "unit" register)."""

    metric: MetricName
    map: dict[int, str] = Field(min_length=1)


class Point(Strict):
    """One measured or settable quantity of the device."""

    metric: MetricName
    name: str = ""
    table: Table
    address: Address
    addresses: Annotated[
        list[Address] | None,
        Field(min_length=2, max_length=4, description="Registers of a value that are not contiguous, first word first"),
    ] = None
    type: DataType
    length: Annotated[int | None, Field(ge=1, le=64, description="Registers of a string")] = None
    byte_order: ByteOrder | None = None
    word_order: WordOrder | None = None
    bit: Annotated[int | None, Field(ge=0, le=15, description="Bit of a 16-bit register, 0 = LSB")] = None
    mask: Annotated[int | None, Field(ge=1, le=0xFFFFFFFFFFFFFFFF)] = None
    shift: Annotated[int, Field(ge=0, le=63)] = 0
    bcd: bool = Field(default=False, description="Digits in nibbles (after mask/shift); fields of packed times")
    scale: float = 1.0
    scale_from: ScaleFrom | None = None
    offset: float = 0.0
    unit: str = ""
    unit_from: UnitFrom | None = None
    range: tuple[float, float] | None = None
    sentinels: list[int] = Field(default_factory=list, description="Raw values meaning 'no value'")
    enum: dict[int, str] | None = None
    writable: bool = False
    write_only: bool = Field(default=False, description="Never polled: command and calibration registers")
    write_function_code: Literal[5, 6, 15, 16] | None = None
    report: ReportSpec = ReportSpec()
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _first_address(cls, data: Any) -> Any:
        if isinstance(data, dict) and "address" not in data and isinstance(data.get("addresses"), list):
            return {**data, "address": data["addresses"][0] if data["addresses"] else 0}
        return data

    @property
    def register_count(self) -> int:
        """How many registers (or bits, for coil tables) this point occupies."""
        if self.table.is_bit_table:
            return 1
        return register_count(self.type, self.length)

    @property
    def field_mask(self) -> int | None:
        """The bits of its register(s) this point uses, when it is a bit or mask field."""
        if self.bit is not None:
            return 1 << self.bit
        return self.mask

    def manual_addresses(self) -> list[int]:
        """Every register (as printed in the manual) the point reads, in value order."""
        if self.addresses is not None:
            return list(self.addresses)
        return list(range(self.address, self.address + self.register_count))

    @property
    def is_text(self) -> bool:
        """True for points whose readings carry text: strings and the packed times ("18:30")."""
        return self.type in (DataType.STRING, *PACKED)

    @property
    def polled(self) -> bool:
        """True unless the point is write-only."""
        return not self.write_only

    @model_validator(mode="after")
    def _new_features(self) -> Self:
        if self.addresses is not None:
            if self.addresses[0] != self.address:
                raise ValueError(f"'address' {self.address} must be the first of 'addresses' {self.addresses}")
            if self.table.is_bit_table or len(self.addresses) != self.register_count:
                raise ValueError(
                    f"'addresses' lists the {self.register_count} registers of one {self.type.value}, "
                    f"got {len(self.addresses)}"
                )
            if len(set(self.addresses)) != len(self.addresses):
                raise ValueError("'addresses' lists a register twice")
        if self.bcd and self.type not in (*PACKED, DataType.UINT16, DataType.UINT32, DataType.UINT64):
            raise ValueError("'bcd' applies to uint16/uint32/uint64 and the packed time types")
        if self.type in PACKED and (self.scale != 1.0 or self.offset != 0.0 or self.mask or self.bit is not None):
            raise ValueError(f"'{self.type.value}' is a time: no scale, offset, mask or bit")
        dynamic = self.scale_from is not None or self.unit_from is not None
        if dynamic and self.type not in (*INTEGERS, DataType.FLOAT32, DataType.FLOAT64):
            raise ValueError("'scale_from'/'unit_from' apply to numbers")
        if self.unit_from is not None and self.unit:
            raise ValueError("give 'unit' or 'unit_from', not both")
        if self.write_only and not self.writable:
            raise ValueError("a 'write_only' point must also be 'writable'")
        if self.writable and self.table not in (Table.COIL, Table.HOLDING):
            raise ValueError(f"the {self.table.value} table is read-only: a point in it cannot be 'writable'")
        fc = self.write_function_code
        if fc is not None:
            allowed = (5, 15) if self.table is Table.COIL else (6, 16)
            if not self.writable or fc not in allowed:
                raise ValueError(f"'write_function_code' of a writable {self.table.value} point is one of {allowed}")
            if fc in (5, 6) and self.register_count > 1:
                raise ValueError(f"function code {fc} writes one register; this point has {self.register_count}")
        return self

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
        if self.enum is not None and self.type in (DataType.FLOAT32, DataType.FLOAT64, DataType.STRING, *PACKED):
            raise ValueError("'enum' maps integer states; it cannot apply to floats, strings or times")
        if self.type in (DataType.STRING, DataType.BOOL) and (self.scale != 1.0 or self.offset != 0.0):
            raise ValueError(f"'scale'/'offset' do not apply to {self.type.value}")
        return self
