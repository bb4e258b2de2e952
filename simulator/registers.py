"""The register image of one device: engineering values encoded per profile, as a client reads them.

Values are encoded with :func:`citysense.profiles.transform.to_raw` (the same
code a client's write goes through; a ``scale_from`` point with the value of
its decimals register), bit and mask fields OR'ed into their register(s), and
a value spread over registers that are not contiguous (``addresses``) written
word by word.
Addresses with no point are zero when they lie within ``GAP_REGISTERS`` of a
point, so a client may read across small holes as on most field devices;
farther away they are unmapped and the device answers exception 2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pymodbus.simulator import DataType, SimData

from citysense.errors import CodecError
from citysense.profiles.model import Point, Profile, Table
from citysense.profiles.transform import Context, to_raw, to_value
from citysense.quality import Quality
from simulator.models import Value

GAP_REGISTERS = 16  # holes up to this size are served as zeros (read planners merge across small holes)
TABLES = (Table.COIL, Table.DISCRETE_INPUT, Table.HOLDING, Table.INPUT)  # pymodbus' block order


def _spans(addresses: Sequence[tuple[int, int]], gap: int) -> list[tuple[int, int]]:
    """Merge ``(start, end)`` ranges whose holes are at most ``gap`` long."""
    spans: list[tuple[int, int]] = []
    for start, end in sorted(addresses):
        if spans and start - spans[-1][1] <= gap:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


class RegisterImage:
    """Every table of one profile as plain words and bits, plus the pymodbus blocks that serve them."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.points: dict[Table, list[Point]] = {t: [p for p in profile.points if p.table is t] for t in TABLES}
        gap = max(GAP_REGISTERS, profile.defaults.max_gap_registers)
        self.spans: dict[Table, list[tuple[int, int]]] = {
            t: _spans([(a, a + 1) for p in ps for a in self.addresses(p)], gap) for t, ps in self.points.items()
        }
        self.base: dict[Table, int] = {t: s[0][0] if s else 0 for t, s in self.spans.items()}
        self.words: dict[Table, list[int]] = {
            t: [0] * ((s[-1][1] - s[0][0]) if s else 0) for t, s in self.spans.items() if not t.is_bit_table
        }
        self.bits: dict[Table, dict[int, bool]] = {t: {} for t in TABLES if t.is_bit_table}

    def address(self, point: Point) -> int:
        """Return the protocol (0-based) address of ``point``."""
        return self.profile.pdu_address(point)

    def addresses(self, point: Point) -> list[int]:
        """The protocol addresses of every register of ``point``, in value order."""
        base = self.profile.defaults.address_base
        return [a - base for a in point.manual_addresses()]

    def encode(self, point: Point, value: Value, context: Context | None = None) -> list[int]:
        """Encode ``value`` for ``point``, clamped into its range (a model must never crash a device)."""
        try:
            return to_raw(self.profile, point, value, context)
        except CodecError:
            if isinstance(value, str) and point.type.value == "string":
                return to_raw(self.profile, point, value[: 2 * (point.length or 1)])
            if point.range is None or point.enum is not None or isinstance(value, bool | str):
                raise
            lo, hi = point.range
            return to_raw(self.profile, point, min(max(float(value), lo), hi), context)

    def render(self, values: Mapping[str, Value], forced: Mapping[str, Sequence[int]]) -> None:
        """Write every point's value (or its forced raw registers) into the image."""
        for table, points in self.points.items():
            if table.is_bit_table:
                self.bits[table] = {self.address(p): bool(values[p.metric]) for p in points}
                continue
            words = self.words[table]
            bit_words: dict[int, int] = {}
            for p in points:
                raw = list(forced[p.metric]) if p.metric in forced else self.encode(p, values[p.metric], values)
                offsets = [a - self.base[table] for a in self.addresses(p)]
                for offset, word in zip(offsets, raw, strict=True):
                    if p.field_mask is not None and p.metric not in forced:
                        bit_words[offset] = bit_words.get(offset, 0) | word
                    else:
                        words[offset] = word
            for offset, word in bit_words.items():
                words[offset] = word

    def registers(self, point: Point) -> list[int]:
        """Return the registers (or the one bit, as 0/1) that hold ``point`` now."""
        if point.table.is_bit_table:
            return [int(self.bits[point.table].get(self.address(point), False))]
        words = self.words[point.table]
        return [words[a - self.base[point.table]] for a in self.addresses(point)]

    def decode(self, point: Point, context: Context | None = None) -> tuple[Value | None, Quality]:
        """Return what a client decoding per profile obtains from the image for ``point``."""
        return to_value(self.profile, point, self.registers(point), context)

    def serve(self, table: Table, block_start: int, address: int, count: int, registers: list[int]) -> None:
        """Copy the image into pymodbus' live register list for a request at ``address``."""
        if table.is_bit_table:
            bits = self.bits[table]
            first = address // 16 - block_start  # pymodbus packs 16 bits per word, bit 0 first
            for i in range(first, first + count):
                word_address = (block_start + i) * 16
                registers[i] = sum(1 << k for k in range(16) if bits.get(word_address + k, False))
            return
        offset = address - block_start
        registers[offset : offset + count] = self.words[table][offset : offset + count]

    def sim_blocks(self) -> tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
        """Return the four pymodbus block lists (coils, discrete inputs, holding, input registers)."""
        blocks: list[list[SimData]] = []
        for table in TABLES:
            spans = self.spans[table]
            if not spans:  # a placeholder: pymodbus needs each table; the device refuses it (exception 2)
                kind = DataType.BITS if table.is_bit_table else DataType.REGISTERS
                blocks.append([SimData(0, values=[False] * 16 if table.is_bit_table else [0], datatype=kind)])
            elif table.is_bit_table:
                start, end = spans[0][0], spans[-1][1]
                blocks.append([SimData(start, values=[False] * (end - start), datatype=DataType.BITS)])
            else:
                blocks.append([SimData(s, values=[0] * (e - s), datatype=DataType.REGISTERS) for s, e in spans])
        return blocks[0], blocks[1], blocks[2], blocks[3]
